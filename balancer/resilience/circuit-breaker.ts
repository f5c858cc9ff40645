import type { Outcome } from './outcome.js';
import { RollingCounts } from './rolling-counts.js';

export interface CircuitBreakerOptions {
  /** Opens when failures / requests over the window reaches this (0 < ratio <= 1). */
  readonly failureRatio: number;
  /** ... and the window holds at least this many requests. */
  readonly minRequests: number;
  readonly windowMs: number;
  /** Slots of the rolling window. */
  readonly buckets: number;
  /** How long it stays open before letting trial requests through. */
  readonly openMs: number;
  /** Trial requests allowed while half-open; this many successes close it. */
  readonly halfOpenRequests: number;
}

/**
 * minRequests matches the outlier detector's consecutiveFailures (5), so a
 * backend failing everything is ejected and has its breaker opened by the
 * same failure; after the ejection it comes back through half-open.
 */
export const CIRCUIT_BREAKER_DEFAULTS: CircuitBreakerOptions = Object.freeze({
  failureRatio: 0.5,
  minRequests: 5,
  windowMs: 10_000,
  buckets: 10,
  openMs: 10_000,
  halfOpenRequests: 3,
});

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerInfo {
  readonly state: BreakerState;
  readonly requests: number;
  readonly failures: number;
  readonly failureRatio: number;
  /** When it opened (open and half-open). */
  readonly openedAt: number | undefined;
  /** When an open breaker turns half-open. */
  readonly halfOpenAt: number | undefined;
  readonly trialsInFlight: number;
  readonly trialSuccesses: number;
}

export type StateListener = (from: BreakerState, to: BreakerState, at: number) => void;

const noop = (): void => undefined;

export function validateBreakerOptions(o: CircuitBreakerOptions): CircuitBreakerOptions {
  if (!(o.failureRatio > 0 && o.failureRatio <= 1)) throw new RangeError(`invalid breakerFailureRatio ${o.failureRatio}; expected a number in (0, 1]`);
  if (!Number.isInteger(o.minRequests) || o.minRequests < 1) throw new RangeError(`invalid breakerMinRequests ${o.minRequests}; expected an integer >= 1`);
  if (!(o.windowMs > 0) || !Number.isFinite(o.windowMs)) throw new RangeError(`invalid breakerWindowMs ${o.windowMs}; expected a positive number`);
  if (!Number.isInteger(o.buckets) || o.buckets < 1) throw new RangeError(`invalid breakerBuckets ${o.buckets}; expected an integer >= 1`);
  if (!(o.openMs > 0) || !Number.isFinite(o.openMs)) throw new RangeError(`invalid breakerOpenMs ${o.openMs}; expected a positive number`);
  if (!Number.isInteger(o.halfOpenRequests) || o.halfOpenRequests < 1) {
    throw new RangeError(`invalid breakerHalfOpenRequests ${o.halfOpenRequests}; expected an integer >= 1`);
  }
  return o;
}

/**
 * One backend's circuit breaker.
 * - closed: everything passes; each result goes into a rolling window; when
 *   the window holds >= minRequests and failures / requests >= failureRatio,
 *   it opens.
 * - open: nothing passes until openMs has gone by, then half-open.
 * - half-open: `allow()` grants up to halfOpenRequests trials; that many
 *   successes close it (with a fresh window), any failure opens it again.
 *   A `cancelled` trial gives its permit back.
 * Time moves only through `advance(now)`, the owner's tick: open turns
 * half-open there, at the first tick at or after the deadline. `state` and
 * `info()` only read. Every transition goes through one place and is
 * reported to the listener.
 */
export class CircuitBreaker {
  readonly options: CircuitBreakerOptions;
  readonly #window: RollingCounts;
  readonly #onChange: StateListener;
  #state: BreakerState = 'closed';
  #openedAt = 0;
  #trialsInFlight = 0;
  #trialSuccesses = 0;

  /** `options` already complete, validated and frozen (CircuitBreakers makes 10,000 breakers from one set) are taken as they are. */
  constructor(options: Partial<CircuitBreakerOptions> = {}, onChange: StateListener = noop, validated = false) {
    this.options = validated ? (options as CircuitBreakerOptions) : Object.freeze(validateBreakerOptions({ ...CIRCUIT_BREAKER_DEFAULTS, ...options }));
    this.#window = new RollingCounts(this.options.windowMs, this.options.buckets);
    this.#onChange = onChange;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** The tick: an open breaker whose open time has passed turns half-open. */
  advance(now: number): void {
    if (this.#state === 'open' && now >= this.#openedAt + this.options.openMs) this.#set('half-open', now);
  }

  /**
   * May an attempt go to this backend now (as of the last tick)? Call right before sending; in
   * half-open a `true` takes a trial permit that the attempt's `record()`
   * must settle.
   */
  allow(): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') return false;
    if (this.#trialsInFlight + this.#trialSuccesses >= this.options.halfOpenRequests) return false;
    this.#trialsInFlight++;
    return true;
  }

  /** The result of an attempt that `allow()` let through. */
  record(outcome: Outcome, now: number): void {
    switch (this.#state) {
      case 'closed':
        if (outcome === 'cancelled') return;
        this.#window.add(outcome === 'success', now);
        if (outcome === 'failure') {
          const total = this.#window.total(now);
          if (total >= this.options.minRequests && this.#window.failures(now) >= this.options.failureRatio * total) this.#open(now);
        }
        return;
      case 'open':
        // Late results of requests sent before it opened.
        return;
      case 'half-open':
        // Results with no trial outstanding were sent before it opened: ignored.
        if (this.#trialsInFlight === 0) return;
        this.#trialsInFlight--;
        if (outcome === 'failure') this.#open(now);
        else if (outcome === 'success' && ++this.#trialSuccesses >= this.options.halfOpenRequests) this.#set('closed', now);
        return;
    }
  }

  /** When an open breaker will turn half-open; undefined otherwise. */
  halfOpenAt(): number | undefined {
    return this.#state === 'open' ? this.#openedAt + this.options.openMs : undefined;
  }

  info(now: number): BreakerInfo {
    const requests = this.#window.total(now);
    const failures = this.#window.failures(now);
    return {
      state: this.#state,
      requests,
      failures,
      failureRatio: requests === 0 ? 0 : failures / requests,
      openedAt: this.#state === 'closed' ? undefined : this.#openedAt,
      halfOpenAt: this.halfOpenAt(),
      trialsInFlight: this.#trialsInFlight,
      trialSuccesses: this.#trialSuccesses,
    };
  }

  #open(now: number): void {
    this.#openedAt = now;
    this.#set('open', now);
  }

  #set(to: BreakerState, now: number): void {
    const from = this.#state;
    this.#state = to;
    this.#trialsInFlight = 0;
    this.#trialSuccesses = 0;
    if (to === 'closed') this.#window.reset();
    if (from !== to) this.#onChange(from, to, now);
  }
}
