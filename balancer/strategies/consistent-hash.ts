import { hashString } from './hash.js';
import { parseHashKey, type KeyExtractor } from './hash-key.js';
import { HashRing } from './hash-ring.js';
import { isExcluded, type Candidate, type PickContext, type Strategy } from './strategy.js';
import type { WeightOf } from './weighted-round-robin.js';

export interface ConsistentHashOptions {
  /** `ip`, `path`, `header:NAME` or `cookie:NAME`. */
  readonly hashKey: string;
  /**
   * Bounded load (HAProxy `hash-balance-factor` / 100): no backend takes a
   * request that would bring its in-flight count above
   * ceil(factor x (total in-flight + 1) x weight / total weight).
   * 0 turns the bound off; otherwise at least 1.
   */
  readonly balanceFactor: number;
  /** Ring points for a backend of the largest weight. */
  readonly vnodes: number;
  /** Most ring points in all. */
  readonly maxPoints: number;
  /** Hash seed; all balancers sharing a registry must agree on it. */
  readonly seed: number;
}

export const CONSISTENT_HASH_DEFAULTS: ConsistentHashOptions = Object.freeze({
  hashKey: 'ip',
  balanceFactor: 0,
  vnodes: 1024,
  maxPoints: 131_072,
  seed: 0,
});

/** A ring cached per candidates array, with the weights it was built from. */
interface CachedRing {
  readonly ring: HashRing;
  /** Candidate weights as read when it was built (before the all-zero rule). */
  readonly input: Float64Array;
}

/**
 * Consistent hashing on a ring with virtual nodes proportional to weight
 * (ketama / Envoy ring_hash), with optional bounded load (HAProxy
 * hash-balance-factor, "consistent hashing with bounded loads"): the key's
 * backend is used unless it is at its bound, then the ring is walked
 * clockwise to the next backend under its bound. With a factor >= 1 some
 * backend is always under its bound, so the walk ends.
 *
 * The ring is rebuilt only when the candidates array or a weight changes
 * (O(P log P), P = points; about 15 ms for 50 backends at 1024 points).
 * A pick is one key hash, one binary search and, with the bound on, one
 * pass over the candidates to total their in-flight requests.
 */
export class ConsistentHash<C extends Candidate = Candidate> implements Strategy<C> {
  readonly name = 'consistent-hash';
  readonly options: ConsistentHashOptions;
  readonly #key: KeyExtractor;
  readonly #rings = new WeakMap<readonly C[], CachedRing>();
  readonly #weightOf: WeightOf<C>;
  #cursor = 0;

  /**
   * `weightOf` gives the weight the ring is built from (default `c.weight`).
   * When the proxy ramps `weight` for slow start, pass the registry weight
   * here, or every ramp tick rebuilds the ring and remaps keys.
   */
  constructor(options: Partial<ConsistentHashOptions> = {}, weightOf: WeightOf<C> = byWeight) {
    this.#weightOf = weightOf;
    const o = { ...CONSISTENT_HASH_DEFAULTS, ...options };
    if (!(o.balanceFactor === 0 || (o.balanceFactor >= 1 && Number.isFinite(o.balanceFactor)))) {
      throw new RangeError(`invalid balanceFactor ${o.balanceFactor}; expected 0 (off) or a number >= 1 (1.25 = HAProxy hash-balance-factor 125)`);
    }
    if (!Number.isInteger(o.vnodes) || o.vnodes < 1) throw new RangeError(`invalid vnodes ${o.vnodes}; expected an integer >= 1`);
    if (!Number.isInteger(o.maxPoints) || o.maxPoints < 1) throw new RangeError(`invalid maxPoints ${o.maxPoints}; expected an integer >= 1`);
    if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff)
      throw new RangeError(`invalid hashSeed ${o.seed}; expected an integer from 0 to 4294967295`);
    this.#key = parseHashKey(o.hashKey);
    this.options = Object.freeze({ ...o, hashKey: this.#key.spec });
  }

  pick(candidates: readonly C[], ctx: PickContext, exclude?: readonly C[]): C | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const key = this.#key.key(ctx);
    if (key === undefined) return this.#roundRobin(candidates, exclude);
    const ring = this.ringFor(candidates);
    const start = ring.find(hashString(key, this.options.seed));
    const owners = ring.owners;
    const factor = this.options.balanceFactor;
    const noExclude = exclude === undefined || exclude.length === 0;
    if (factor === 0 && noExclude) return candidates[owners[start]];

    let scale = 0;
    if (factor !== 0) {
      let total = 0;
      for (let i = 0; i < n; i++) total += candidates[i].inFlight;
      scale = (factor * (total + 1)) / ring.totalWeight;
      // Bounds use the ring's weights (all 1 when every weight is 0).
    }
    const size = owners.length;
    let fallback = -1;
    for (let step = 0, p = start; step < size; step++, p = p + 1 === size ? 0 : p + 1) {
      const o = owners[p];
      const c = candidates[o];
      if (!noExclude && isExcluded(c, exclude)) continue;
      if (factor === 0 || c.inFlight < boundOf(scale, ring.weights[o])) return c;
      if (fallback < 0) fallback = o;
    }
    // Only reachable with exclusions: every remaining backend is at its bound.
    return fallback < 0 ? undefined : candidates[fallback];
  }

  /**
   * The backends the bounded-load walk went past before `picked`: the key's
   * own backend and any after it on the ring that were at their bound.
   */
  passedOver(candidates: readonly C[], ctx: PickContext, picked: C, exclude?: readonly C[]): readonly { readonly id: string; readonly reason: string }[] {
    if (this.options.balanceFactor === 0 || candidates.length === 0) return [];
    const key = this.#key.key(ctx);
    if (key === undefined) return [];
    const ring = this.ringFor(candidates);
    const owners = ring.owners;
    const out: { id: string; reason: string }[] = [];
    const seen = new Set<number>();
    for (let step = 0, p = ring.find(hashString(key, this.options.seed)); step < owners.length; step++, p = p + 1 === owners.length ? 0 : p + 1) {
      const c = candidates[owners[p]];
      if (c === picked) return out;
      if (isExcluded(c, exclude) || seen.has(owners[p])) continue;
      seen.add(owners[p]);
      out.push({ id: c.id, reason: 'over-bounded-load' });
    }
    return [];
  }

  /** The ring for this array, rebuilt when the array or any weight changed. */
  ringFor(candidates: readonly C[]): HashRing {
    const cached = this.#rings.get(candidates);
    if (cached !== undefined && this.#sameWeights(cached.input, candidates)) return cached.ring;
    const ids = new Array<string>(candidates.length);
    const weights = new Float64Array(candidates.length);
    for (let i = 0; i < candidates.length; i++) {
      ids[i] = candidates[i].id;
      weights[i] = this.#weightOf(candidates[i]);
    }
    const ring = HashRing.build(ids, weights, this.options);
    this.#rings.set(candidates, { ring, input: weights });
    return ring;
  }

  #sameWeights(w: Float64Array, candidates: readonly C[]): boolean {
    if (w.length !== candidates.length) return false;
    for (let i = 0; i < w.length; i++) if (w[i] !== this.#weightOf(candidates[i])) return false;
    return true;
  }

  /** The request carries no key: take turns (HAProxy does the same for a missing header). */
  #roundRobin(candidates: readonly C[], exclude: readonly C[] | undefined): C | undefined {
    const n = candidates.length;
    for (let tries = 0; tries < n; tries++) {
      if (this.#cursor >= n) this.#cursor = 0;
      const c = candidates[this.#cursor++];
      if (!isExcluded(c, exclude)) return c;
    }
    return undefined;
  }
}

/** ceil(scale x weight), with a hair of tolerance for floating error. */
function boundOf(scale: number, weight: number): number {
  return Math.ceil(scale * weight - 1e-9);
}

const byWeight = <C extends Candidate>(c: C): number => c.weight;
