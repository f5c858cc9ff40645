import type { Candidate, PickContext, Strategy } from './strategy.js';

/**
 * Plain round robin: each candidate in turn. Over any run of k x N picks on an
 * unchanged set of N candidates, every candidate is picked exactly k times.
 */
export class RoundRobin<C extends Candidate = Candidate> implements Strategy<C> {
  readonly name = 'round-robin';
  #cursor = 0;

  pick(candidates: readonly C[], _ctx?: PickContext): C | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (this.#cursor >= n) this.#cursor = 0;
    return candidates[this.#cursor++];
  }
}
