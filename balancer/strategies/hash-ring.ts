import { hashString } from './hash.js';

export interface HashRingOptions {
  /** Points for a backend of the largest weight; others get a proportional share (at least 1). */
  readonly vnodes: number;
  /** Upper bound on points in all; vnodes shrink to fit. */
  readonly maxPoints: number;
  /** Hash seed; every balancer sharing a registry must use the same. */
  readonly seed: number;
}

/** Owner indexes are packed under the hash in one float64 sort key: hash * 2^20 + owner. */
const OWNER_BITS = 2 ** 20;
export const MAX_RING_OWNERS = OWNER_BITS;

/**
 * A consistent-hash ring: each owner (a backend, by its index in the list it
 * was built from) has points at hash(`id#k`) for k = 0..v-1, where v is
 * proportional to its weight. A key belongs to the owner of the first point
 * at or after the key's hash, wrapping around.
 *
 * Points depend only on the id, k and the seed, so the ring is the same in
 * every process given the same ids and weights, and an owner joining or
 * leaving moves only the keys on its own arcs (while the largest weight, which
 * scales everyone's point count, is unchanged).
 */
export class HashRing {
  /** Sorted point hashes. */
  readonly points: Uint32Array;
  /** Owner index of each point. */
  readonly owners: Int32Array;
  /** Weights the ring was built from, by owner index. */
  readonly weights: Float64Array;
  readonly totalWeight: number;

  private constructor(points: Uint32Array, owners: Int32Array, weights: Float64Array, totalWeight: number) {
    this.points = points;
    this.owners = owners;
    this.weights = weights;
    this.totalWeight = totalWeight;
  }

  get size(): number {
    return this.points.length;
  }

  /**
   * Builds the ring. Owners with weight 0 get no points, unless every weight
   * is 0, in which case all count as equal.
   */
  static build(ids: readonly string[], weights: ArrayLike<number>, options: HashRingOptions): HashRing {
    const n = ids.length;
    if (n > MAX_RING_OWNERS) throw new RangeError(`too many backends for a hash ring: ${n} (at most ${MAX_RING_OWNERS})`);
    const w = new Float64Array(n);
    let max = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const x = weights[i];
      w[i] = x > 0 && x < Number.POSITIVE_INFINITY ? x : 0;
      if (w[i] > max) max = w[i];
      total += w[i];
    }
    if (max === 0) {
      w.fill(1);
      max = 1;
      total = n;
    }
    let vnodes = Math.max(1, Math.floor(options.vnodes));
    let counts = pointCounts(w, max, vnodes);
    let sum = counts.reduce((a, b) => a + b, 0);
    if (sum > options.maxPoints) {
      vnodes = Math.max(1, Math.floor((vnodes * options.maxPoints) / sum));
      counts = pointCounts(w, max, vnodes);
      sum = counts.reduce((a, b) => a + b, 0);
    }
    const keys = new Float64Array(sum);
    let j = 0;
    for (let i = 0; i < n; i++) {
      const prefix = `${ids[i]}#`;
      for (let k = 0; k < counts[i]; k++) keys[j++] = hashString(prefix + k, options.seed) * OWNER_BITS + i;
    }
    keys.sort();
    const points = new Uint32Array(sum);
    const owners = new Int32Array(sum);
    for (let p = 0; p < sum; p++) {
      const owner = keys[p] % OWNER_BITS;
      owners[p] = owner;
      points[p] = (keys[p] - owner) / OWNER_BITS;
    }
    return new HashRing(points, owners, w, total);
  }

  /** Index of the first point at or after `hash`, wrapping to 0. The ring must not be empty. */
  find(hash: number): number {
    const pts = this.points;
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === pts.length ? 0 : lo;
  }

  /** The owner index a hash maps to. */
  ownerOf(hash: number): number {
    return this.owners[this.find(hash)];
  }
}

function pointCounts(w: Float64Array, max: number, vnodes: number): number[] {
  const counts = new Array<number>(w.length);
  for (let i = 0; i < w.length; i++) counts[i] = w[i] === 0 ? 0 : Math.max(1, Math.round((vnodes * w[i]) / max));
  return counts;
}
