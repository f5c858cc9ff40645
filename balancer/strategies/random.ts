import type { Candidate, PickContext, Strategy } from './strategy.js';

/** Uniform random choice; `random` is injectable so tests can seed it. */
export class RandomPick<C extends Candidate = Candidate> implements Strategy<C> {
  readonly name = 'random';
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  pick(candidates: readonly C[], _ctx?: PickContext): C | undefined {
    const n = candidates.length;
    return n === 0 ? undefined : candidates[Math.floor(this.#random() * n)];
  }
}
