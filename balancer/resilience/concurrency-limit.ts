export interface GradientLimitOptions {
  readonly initialLimit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
  /** Short RTT may exceed the long-term RTT by this factor before the limit shrinks. */
  readonly rttTolerance: number;
  /** Weight of each new estimate (0 < smoothing <= 1). */
  readonly smoothing: number;
  /** Windows averaged by the long-term RTT EWMA (alpha = 2 / (n + 1)). */
  readonly longWindows: number;
  /** Headroom added to the limit at each update, so it can grow while latency holds. */
  readonly queueSize: number;
  /** A window closes after this long ... */
  readonly windowMs: number;
  /** ... and at least this many samples. */
  readonly minWindowSamples: number;
}

export const GRADIENT_LIMIT_DEFAULTS: GradientLimitOptions = Object.freeze({
  initialLimit: 20,
  minLimit: 8,
  maxLimit: 1024,
  rttTolerance: 1.5,
  smoothing: 0.2,
  longWindows: 600,
  queueSize: 4,
  windowMs: 1_000,
  minWindowSamples: 10,
});

export interface GradientLimitStatus {
  readonly limit: number;
  readonly estimate: number;
  readonly shortRttMs: number | undefined;
  readonly longRttMs: number | undefined;
  readonly gradient: number | undefined;
}

/**
 * A gradient concurrency limit (after Netflix concurrency-limits Gradient2):
 * RTT samples are averaged per window (short RTT) and folded into a slow
 * EWMA (long RTT). At each window close
 *   gradient = clamp(tolerance x long / short, 0.5, 1)
 *   target   = estimate x gradient + queueSize
 *   estimate = estimate x (1 - smoothing) + target x smoothing, within [min, max].
 * Latency at or under the long-term norm lets the limit climb by
 * queueSize x smoothing per window; latency above tolerance x norm shrinks
 * it (by at most half per window, smoothed). While fewer than half the
 * limit are in flight the limit holds (the app, not the backends, is the
 * bottleneck). When short RTT falls below half the long RTT (recovery after
 * a long slow period), the long RTT decays 5 % per window to catch up.
 * Pure: `update()` takes the clock reading; the proxy passes the result to
 * AdmissionControl.setLimit().
 */
export class GradientConcurrencyLimit {
  readonly options: GradientLimitOptions;
  #estimate: number;
  #long = Number.NaN;
  #lastShort = Number.NaN;
  #lastGradient = Number.NaN;
  #windowStart = Number.NaN;
  #sum = 0;
  #count = 0;
  #maxInFlight = 0;

  constructor(options: Partial<GradientLimitOptions> = {}) {
    const o = { ...GRADIENT_LIMIT_DEFAULTS, ...options };
    if (!Number.isInteger(o.minLimit) || o.minLimit < 1) throw new RangeError(`invalid minLimit ${o.minLimit}; expected an integer >= 1`);
    if (!Number.isInteger(o.maxLimit) || o.maxLimit < o.minLimit)
      throw new RangeError(`invalid maxLimit ${o.maxLimit}; expected an integer >= minLimit (${o.minLimit})`);
    if (!(o.initialLimit >= o.minLimit && o.initialLimit <= o.maxLimit)) {
      throw new RangeError(`invalid initialLimit ${o.initialLimit}; expected a value from minLimit (${o.minLimit}) to maxLimit (${o.maxLimit})`);
    }
    if (!(o.rttTolerance >= 1) || !Number.isFinite(o.rttTolerance)) throw new RangeError(`invalid rttTolerance ${o.rttTolerance}; expected a number >= 1`);
    if (!(o.smoothing > 0 && o.smoothing <= 1)) throw new RangeError(`invalid smoothing ${o.smoothing}; expected a number in (0, 1]`);
    if (!(o.longWindows >= 1) || !Number.isFinite(o.longWindows)) throw new RangeError(`invalid longWindows ${o.longWindows}; expected a number >= 1`);
    if (!(o.queueSize >= 0) || !Number.isFinite(o.queueSize)) throw new RangeError(`invalid queueSize ${o.queueSize}; expected a number >= 0`);
    if (!(o.windowMs > 0) || !Number.isFinite(o.windowMs)) throw new RangeError(`invalid windowMs ${o.windowMs}; expected a positive number`);
    if (!Number.isInteger(o.minWindowSamples) || o.minWindowSamples < 1)
      throw new RangeError(`invalid minWindowSamples ${o.minWindowSamples}; expected an integer >= 1`);
    this.options = Object.freeze(o);
    this.#estimate = o.initialLimit;
  }

  /** The current cap: the estimate rounded down, within [min, max]. */
  get limit(): number {
    return Math.min(this.options.maxLimit, Math.max(this.options.minLimit, Math.floor(this.#estimate)));
  }

  /**
   * One finished request: its round-trip time and the in-flight count when
   * it finished. Returns the (possibly new) limit.
   */
  update(rttMs: number, inFlight: number, now: number): number {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return this.limit;
    if (Number.isNaN(this.#windowStart)) this.#windowStart = now;
    this.#sum += rttMs;
    this.#count++;
    if (inFlight > this.#maxInFlight) this.#maxInFlight = inFlight;
    if (now - this.#windowStart >= this.options.windowMs && this.#count >= this.options.minWindowSamples) this.#closeWindow(now);
    return this.limit;
  }

  status(): GradientLimitStatus {
    return {
      limit: this.limit,
      estimate: this.#estimate,
      shortRttMs: Number.isNaN(this.#lastShort) ? undefined : this.#lastShort,
      longRttMs: Number.isNaN(this.#long) ? undefined : this.#long,
      gradient: Number.isNaN(this.#lastGradient) ? undefined : this.#lastGradient,
    };
  }

  #closeWindow(now: number): void {
    const o = this.options;
    // Floor at 1 µs so a zero RTT cannot divide by zero.
    const short = Math.max(this.#sum / this.#count, 0.001);
    const appLimited = this.#maxInFlight < this.#estimate / 2;
    this.#windowStart = now;
    this.#sum = 0;
    this.#count = 0;
    this.#maxInFlight = 0;
    this.#lastShort = short;

    if (Number.isNaN(this.#long)) this.#long = short;
    else this.#long += (short - this.#long) * (2 / (o.longWindows + 1));
    if (this.#long / short > 2) this.#long *= 0.95;
    if (appLimited) return;

    const gradient = Math.max(0.5, Math.min(1, (o.rttTolerance * this.#long) / short));
    this.#lastGradient = gradient;
    const target = this.#estimate * gradient + o.queueSize;
    const next = this.#estimate * (1 - o.smoothing) + target * o.smoothing;
    this.#estimate = Math.min(o.maxLimit, Math.max(o.minLimit, next));
  }
}
