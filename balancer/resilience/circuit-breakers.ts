import {
  CircuitBreaker,
  CIRCUIT_BREAKER_DEFAULTS,
  validateBreakerOptions,
  type BreakerInfo,
  type BreakerState,
  type CircuitBreakerOptions,
} from './circuit-breaker.js';
import type { Outcome } from './outcome.js';

export interface BreakerEvent {
  readonly id: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly at: number;
}

const noop = (): void => undefined;

/**
 * One circuit breaker per backend id, created on first use. The proxy calls
 * `allow(id)` before each attempt, `record(id, outcome)` after it, and
 * `sweep(now)` in its tick, the only place open breakers turn half-open (and
 * the event fires); reads never change a breaker.
 */
export class CircuitBreakers {
  readonly options: CircuitBreakerOptions;
  readonly #onChange: (e: BreakerEvent) => void;
  readonly #byId = new Map<string, CircuitBreaker>();

  constructor(options: Partial<CircuitBreakerOptions> = {}, onChange: (e: BreakerEvent) => void = noop) {
    this.options = Object.freeze(validateBreakerOptions({ ...CIRCUIT_BREAKER_DEFAULTS, ...options }));
    this.#onChange = onChange;
  }

  get(id: string): CircuitBreaker {
    let b = this.#byId.get(id);
    if (b === undefined) {
      b = new CircuitBreaker(this.options, (from, to, at) => this.#onChange({ id, from, to, at }), true);
      this.#byId.set(id, b);
    }
    return b;
  }

  /** The breaker of `id` if one was made, without making one. */
  existing(id: string): CircuitBreaker | undefined {
    return this.#byId.get(id);
  }

  allow(id: string): boolean {
    return this.get(id).allow();
  }

  record(id: string, outcome: Outcome, now: number): void {
    this.get(id).record(outcome, now);
  }

  state(id: string): BreakerState {
    return this.#byId.get(id)?.state ?? 'closed';
  }

  /** The tick: every due open breaker turns half-open. */
  sweep(now: number): void {
    for (const b of this.#byId.values()) b.advance(now);
  }

  /** Earliest open -> half-open deadline, for a one-shot timer. */
  nextHalfOpenAt(): number | undefined {
    let next: number | undefined;
    for (const b of this.#byId.values()) {
      const t = b.halfOpenAt();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** Drops breakers of backends no longer registered. */
  setMembers(ids: Iterable<string>): void {
    const keep = new Set(ids);
    for (const id of this.#byId.keys()) if (!keep.has(id)) this.#byId.delete(id);
  }

  /** For the admin API: every backend's breaker. */
  snapshot(now: number): Array<BreakerInfo & { readonly id: string }> {
    return [...this.#byId].map(([id, b]) => ({ id, ...b.info(now) }));
  }
}
