import { isExcluded, type Candidate, type PickContext, type Strategy } from './strategy.js';

/**
 * Plain round robin: each candidate in turn. Over any run of k x N picks on an
 * unchanged set of N candidates, every candidate is picked exactly k times.
 * Excluded candidates (retries) are skipped; their turn passes.
 */
export class RoundRobin<C extends Candidate = Candidate> implements Strategy<C> {
  readonly name = 'round-robin';
  #cursor = 0;

  pick(candidates: readonly C[], _ctx?: PickContext, exclude?: readonly C[]): C | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    for (let tries = 0; tries < n; tries++) {
      if (this.#cursor >= n) this.#cursor = 0;
      const c = candidates[this.#cursor++];
      if (!isExcluded(c, exclude)) return c;
    }
    return undefined;
  }
}
