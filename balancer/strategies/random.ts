import { countEligible, nthEligible, type Candidate, type PickContext, type Strategy } from './strategy.js';

/** Uniform random choice; `random` is injectable so tests can seed it. */
export class RandomPick<C extends Candidate = Candidate> implements Strategy<C> {
  readonly name = 'random';
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  pick(candidates: readonly C[], _ctx?: PickContext, exclude?: readonly C[]): C | undefined {
    if (exclude === undefined || exclude.length === 0) {
      const n = candidates.length;
      return n === 0 ? undefined : candidates[Math.floor(this.#random() * n)];
    }
    const m = countEligible(candidates, exclude);
    return m === 0 ? undefined : nthEligible(candidates, exclude, Math.floor(this.#random() * m));
  }
}
