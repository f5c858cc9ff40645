import { countEligible, nthEligible, type Candidate, type PickContext, type Strategy } from './strategy.js';
import type { WeightOf } from './weighted-round-robin.js';

export interface LeastRequestOptions<C> {
  /** Candidates sampled per pick (Envoy `choice_count`); 2 is "power of two choices". */
  readonly choiceCount: number;
  /**
   * Exponent on the load term (Envoy `active_request_bias`): a candidate's
   * cost is (inFlight + 1)^bias / weight and the cheapest sampled one wins.
   * 1 is HAProxy leastconn's key; 0 compares weights only.
   */
  readonly activeRequestBias: number;
  /** Uniform [0, 1) source; injectable for tests. */
  readonly random: () => number;
  /** Effective weight (slow start); default `c.weight`. */
  readonly weightOf?: WeightOf<C>;
}

export const LEAST_REQUEST_DEFAULTS = Object.freeze({ choiceCount: 2, activeRequestBias: 1 });

const byWeight = <C extends Candidate>(c: C): number => c.weight;

/**
 * Least request by power of `choiceCount` random choices (Envoy
 * LEAST_REQUEST): sample candidates uniformly (the first two distinct), take
 * the one with the lowest (inFlight + 1)^bias / weight; ties go to the first
 * sampled. With equal weights this is classic P2C on in-flight requests; with
 * weights, in-flight load settles proportional to weight. O(choiceCount) per
 * pick, no allocation. Zero-weight candidates lose every comparison.
 */
export class LeastRequest<C extends Candidate = Candidate> implements Strategy<C> {
  readonly name = 'least-request';
  readonly #choices: number;
  readonly #bias: number;
  readonly #random: () => number;
  readonly #weightOf: WeightOf<C>;

  constructor(options: Partial<LeastRequestOptions<C>> = {}) {
    const choices = options.choiceCount ?? LEAST_REQUEST_DEFAULTS.choiceCount;
    const bias = options.activeRequestBias ?? LEAST_REQUEST_DEFAULTS.activeRequestBias;
    if (!Number.isInteger(choices) || choices < 2) throw new RangeError(`invalid choiceCount ${choices}; expected an integer >= 2`);
    if (!(bias >= 0 && Number.isFinite(bias))) throw new RangeError(`invalid activeRequestBias ${bias}; expected a number >= 0`);
    this.#choices = choices;
    this.#bias = bias;
    this.#random = options.random ?? Math.random;
    this.#weightOf = options.weightOf ?? byWeight;
  }

  pick(candidates: readonly C[], _ctx?: PickContext, exclude?: readonly C[]): C | undefined {
    const filtered = exclude !== undefined && exclude.length > 0;
    const n = filtered ? countEligible(candidates, exclude) : candidates.length;
    if (n === 0) return undefined;
    if (n === 1) return filtered ? nthEligible(candidates, exclude, 0) : candidates[0];

    // First two distinct, the rest with replacement.
    const a = Math.floor(this.#random() * n);
    let b = Math.floor(this.#random() * (n - 1));
    if (b >= a) b++;
    let best = this.#at(candidates, exclude, filtered, a);
    let bestCost = this.#cost(best);
    const second = this.#at(candidates, exclude, filtered, b);
    const secondCost = this.#cost(second);
    if (secondCost < bestCost) {
      best = second;
      bestCost = secondCost;
    }
    for (let k = 2; k < this.#choices; k++) {
      const c = this.#at(candidates, exclude, filtered, Math.floor(this.#random() * n));
      const cost = this.#cost(c);
      if (cost < bestCost) {
        best = c;
        bestCost = cost;
      }
    }
    return best;
  }

  #at(candidates: readonly C[], exclude: readonly C[] | undefined, filtered: boolean, k: number): C {
    return (filtered ? nthEligible(candidates, exclude, k) : candidates[k]) as C;
  }

  /** (inFlight + 1)^bias / weight; Infinity for a zero weight. */
  #cost(c: C): number {
    const w = this.#weightOf(c);
    if (!(w > 0)) return Number.POSITIVE_INFINITY;
    const load = c.inFlight + 1;
    return (this.#bias === 1 ? load : this.#bias === 0 ? 1 : load ** this.#bias) / w;
  }
}
