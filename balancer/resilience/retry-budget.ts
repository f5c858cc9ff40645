export interface RetryBudgetOptions {
  /** Share of active requests that may be retries at once (Envoy budget_percent / 100). */
  readonly ratio: number;
  /** Retries always allowed at once, however few requests are active (Envoy min_retry_concurrency). */
  readonly minRetryConcurrency: number;
}

export const RETRY_BUDGET_DEFAULTS: RetryBudgetOptions = Object.freeze({ ratio: 0.2, minRetryConcurrency: 3 });

export interface RetryBudgetStatus {
  readonly activeRetries: number;
  readonly granted: number;
  readonly rejected: number;
  readonly ratio: number;
  readonly minRetryConcurrency: number;
}

/**
 * Envoy's retry budget: a retry may start only while the retries in flight
 * stay below max(minRetryConcurrency, floor(ratio x active requests)), so under a
 * full outage retries add at most that share of load instead of multiplying
 * it. `tryAcquire()` before a retry attempt; `release()` exactly once when
 * that attempt ends, whatever its result.
 */
export class RetryBudget {
  readonly options: RetryBudgetOptions;
  #active = 0;
  #granted = 0;
  #rejected = 0;

  constructor(options: Partial<RetryBudgetOptions> = {}) {
    const o = { ...RETRY_BUDGET_DEFAULTS, ...options };
    if (!(o.ratio >= 0 && o.ratio <= 1)) throw new RangeError(`invalid retryBudgetRatio ${o.ratio}; expected a number from 0 to 1`);
    if (!Number.isInteger(o.minRetryConcurrency) || o.minRetryConcurrency < 0) {
      throw new RangeError(`invalid retryBudgetMinConcurrency ${o.minRetryConcurrency}; expected an integer >= 0`);
    }
    this.options = Object.freeze(o);
  }

  /** Retries allowed in flight when `activeRequests` client requests are open (whole retries, rounded down). */
  limit(activeRequests: number): number {
    return Math.max(this.options.minRetryConcurrency, Math.floor(this.options.ratio * activeRequests + 1e-9));
  }

  /**
   * Takes a retry slot if the budget allows. `activeRequests`: client
   * requests open now (the balancer's in-flight count, this one included).
   */
  tryAcquire(activeRequests: number): boolean {
    if (this.#active < this.limit(activeRequests)) {
      this.#active++;
      this.#granted++;
      return true;
    }
    this.#rejected++;
    return false;
  }

  /** The retry attempt ended. */
  release(): void {
    if (this.#active > 0) this.#active--;
  }

  get activeRetries(): number {
    return this.#active;
  }

  status(): RetryBudgetStatus {
    return {
      activeRetries: this.#active,
      granted: this.#granted,
      rejected: this.#rejected,
      ratio: this.options.ratio,
      minRetryConcurrency: this.options.minRetryConcurrency,
    };
  }
}
