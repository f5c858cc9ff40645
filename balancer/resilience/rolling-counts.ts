/**
 * Request and failure counts over a sliding time window, kept in `buckets`
 * slots of windowMs / buckets each (a slot is reused once it falls out of
 * the window). add() is O(1); reading sums the slots, O(buckets).
 */
export class RollingCounts {
  readonly windowMs: number;
  readonly #bucketMs: number;
  readonly #buckets: number;
  /** Epoch, total and failures of each bucket, side by side; made on the first add (10,000 idle backends hold none). */
  #data: Float64Array | undefined;

  constructor(windowMs: number, buckets = 10) {
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`invalid windowMs ${windowMs}; expected a positive number`);
    if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`invalid buckets ${buckets}; expected an integer >= 1`);
    this.windowMs = windowMs;
    this.#bucketMs = windowMs / buckets;
    this.#buckets = buckets;
  }

  add(ok: boolean, now: number): void {
    const epoch = Math.floor(now / this.#bucketMs);
    const n = this.#buckets;
    const d = (this.#data ??= emptyBuckets(n));
    const slot = epoch % n;
    if (d[slot] !== epoch) {
      d[slot] = epoch;
      d[n + slot] = 0;
      d[2 * n + slot] = 0;
    }
    d[n + slot]++;
    if (!ok) d[2 * n + slot]++;
  }

  total(now: number): number {
    return this.#sum(1, now);
  }

  failures(now: number): number {
    return this.#sum(2, now);
  }

  /** Failures / total over the window; 0 with no requests. */
  failureRatio(now: number): number {
    const t = this.total(now);
    return t === 0 ? 0 : this.failures(now) / t;
  }

  reset(): void {
    this.#data = undefined;
  }

  /** Sums column `column` (1 totals, 2 failures) over the buckets still inside the window. */
  #sum(column: number, now: number): number {
    const d = this.#data;
    if (d === undefined) return 0;
    const n = this.#buckets;
    const current = Math.floor(now / this.#bucketMs);
    const oldest = current - n;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = d[i]!;
      if (e > oldest && e <= current) s += d[column * n + i]!;
    }
    return s;
  }
}

function emptyBuckets(n: number): Float64Array {
  const d = new Float64Array(3 * n);
  d.fill(-1, 0, n);
  return d;
}
