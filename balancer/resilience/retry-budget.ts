export interface RetryBudgetOptions {
  /** Retries allowed per client request over the window (0.2 = 20 %). */
  readonly ratio: number;
  /** Retries always allowed per second, however little traffic there is. */
  readonly minPerSecond: number;
  /** Window the deposits and withdrawals are counted over. */
  readonly windowMs: number;
}

export const RETRY_BUDGET_DEFAULTS: RetryBudgetOptions = Object.freeze({ ratio: 0.2, minPerSecond: 3, windowMs: 10_000 });

export interface RetryBudgetStatus {
  /** Client requests and retries counted in the current window. */
  readonly requests: number;
  readonly retries: number;
  /** Retries the window allows: ratio x requests + minPerSecond x window seconds. */
  readonly allowed: number;
  readonly granted: number;
  readonly rejected: number;
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
}

/**
 * A retry budget that deposits `ratio` of a retry per client request and
 * withdraws one per retry, over a sliding window of one-second buckets (the
 * Finagle/gRPC form of the budget; Envoy caps concurrent retries instead).
 *
 * Why this form: when a backend dies, every request open to it fails in the
 * same instant — 11 of 32 at 32 connections over 3 backends — and all of them
 * deserve a retry; a cap on concurrent retries at 20 % of active requests
 * would fail a third of them. A window lets such a burst spend what steady
 * traffic saved, while over any window of a full outage retries stay at most
 * `ratio` x requests + `minPerSecond` x seconds: they cannot multiply load.
 *
 * Cost per request: one increment. `advance(now)` moves the window; the
 * balancer calls it from its clock tick, and tryAcquire() calls it too.
 */
export class RetryBudget {
  readonly options: RetryBudgetOptions;
  readonly #buckets: number;
  readonly #requests: Float64Array;
  readonly #retries: Float64Array;
  #second: number;
  #slot = 0;
  #requestsSum = 0;
  #retriesSum = 0;
  #granted = 0;
  #rejected = 0;

  constructor(options: Partial<RetryBudgetOptions> = {}, now = 0) {
    const o = { ...RETRY_BUDGET_DEFAULTS, ...options };
    if (!(o.ratio >= 0 && o.ratio <= 10)) throw new RangeError(`invalid retryBudgetRatio ${o.ratio}; expected a number from 0 to 10`);
    if (!(o.minPerSecond >= 0) || !Number.isFinite(o.minPerSecond)) throw new RangeError(`invalid retryBudgetMin ${o.minPerSecond}; expected a number >= 0`);
    if (!Number.isInteger(o.windowMs) || o.windowMs < 1000) throw new RangeError(`invalid retryBudgetWindow ${o.windowMs}; expected at least 1000 ms`);
    this.options = Object.freeze(o);
    this.#buckets = Math.ceil(o.windowMs / 1000);
    this.#requests = new Float64Array(this.#buckets);
    this.#retries = new Float64Array(this.#buckets);
    this.#second = Math.floor(now / 1000);
  }

  /** A client request arrived: it earns `ratio` of a retry. */
  deposit(): void {
    this.#requests[this.#slot]!++;
    this.#requestsSum++;
  }

  /** Retries this window allows in all. */
  allowed(): number {
    return this.options.ratio * this.#requestsSum + this.options.minPerSecond * this.#buckets;
  }

  /** Takes one retry from the budget if it has one left. */
  tryAcquire(now: number): boolean {
    this.advance(now);
    if (this.#retriesSum + 1 <= this.allowed()) {
      this.#retries[this.#slot]!++;
      this.#retriesSum++;
      this.#granted++;
      return true;
    }
    this.#rejected++;
    return false;
  }

  /** Moves the window to `now`, forgetting buckets older than it. */
  advance(now: number): void {
    const second = Math.floor(now / 1000);
    if (second <= this.#second) return;
    const steps = Math.min(second - this.#second, this.#buckets);
    for (let i = 0; i < steps; i++) {
      this.#slot = (this.#slot + 1) % this.#buckets;
      this.#requestsSum -= this.#requests[this.#slot]!;
      this.#retriesSum -= this.#retries[this.#slot]!;
      this.#requests[this.#slot] = 0;
      this.#retries[this.#slot] = 0;
    }
    this.#second = second;
  }

  status(): RetryBudgetStatus {
    return {
      requests: this.#requestsSum,
      retries: this.#retriesSum,
      allowed: Math.floor(this.allowed()),
      granted: this.#granted,
      rejected: this.#rejected,
      ratio: this.options.ratio,
      minPerSecond: this.options.minPerSecond,
      windowMs: this.options.windowMs,
    };
  }
}
