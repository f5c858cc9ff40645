/**
 * Request and failure counts over a sliding time window, kept in `buckets`
 * slots of windowMs / buckets each (a slot is reused once it falls out of
 * the window). add() is O(1); reading sums the slots, O(buckets).
 */
export class RollingCounts {
  readonly windowMs: number;
  readonly #bucketMs: number;
  readonly #epochs: Float64Array;
  readonly #totals: Float64Array;
  readonly #failures: Float64Array;

  constructor(windowMs: number, buckets = 10) {
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`invalid windowMs ${windowMs}; expected a positive number`);
    if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`invalid buckets ${buckets}; expected an integer >= 1`);
    this.windowMs = windowMs;
    this.#bucketMs = windowMs / buckets;
    this.#epochs = new Float64Array(buckets).fill(-1);
    this.#totals = new Float64Array(buckets);
    this.#failures = new Float64Array(buckets);
  }

  add(ok: boolean, now: number): void {
    const epoch = Math.floor(now / this.#bucketMs);
    const slot = epoch % this.#epochs.length;
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch;
      this.#totals[slot] = 0;
      this.#failures[slot] = 0;
    }
    this.#totals[slot]++;
    if (!ok) this.#failures[slot]++;
  }

  total(now: number): number {
    return this.#sum(this.#totals, now);
  }

  failures(now: number): number {
    return this.#sum(this.#failures, now);
  }

  /** Failures / total over the window; 0 with no requests. */
  failureRatio(now: number): number {
    const t = this.total(now);
    return t === 0 ? 0 : this.failures(now) / t;
  }

  reset(): void {
    this.#epochs.fill(-1);
    this.#totals.fill(0);
    this.#failures.fill(0);
  }

  #sum(values: Float64Array, now: number): number {
    const current = Math.floor(now / this.#bucketMs);
    const oldest = current - this.#epochs.length;
    let s = 0;
    for (let i = 0; i < values.length; i++) {
      const e = this.#epochs[i];
      if (e > oldest && e <= current) s += values[i];
    }
    return s;
  }
}
