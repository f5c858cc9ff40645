import type { BackendSpec } from '../common/backend.js';
import type { ErrorCode } from '../common/errors.js';
import type { HealthStatus } from './health/health-state.js';
import type { CircuitBreaker } from './resilience/circuit-breaker.js';
import { RollingWindow } from './stats/rolling-window.js';
import type { Candidate } from './strategies/strategy.js';

/** Upper bounds (seconds) of the Prometheus latency histogram buckets. */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const LATENCY_BUCKETS_MICROS = LATENCY_BUCKETS_SECONDS.map((s) => s * 1e6);
const NO_LATENCIES: ArrayLike<number> = Object.freeze(new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0));

/**
 * One backend as the balancer holds it: the registry's spec, its health and
 * its counters. Counters are private fields read through getters and moved
 * only by the methods below (the hot path only increments). Its connections
 * belong to the forwarding engine, keyed by it.
 */
export class Upstream implements Candidate {
  readonly id: string;
  readonly url: string;
  spec: BackendSpec;
  #health: HealthStatus = 'unknown';
  #healthChangedAt: number;
  /** When the backend last became healthy (slow start ramps from here). */
  #healthySince = 0;
  #inFlight = 0;
  #requests = 0;
  #failures = 0;
  responses1xx2xx = 0;
  responses3xx = 0;
  responses4xx = 0;
  responses5xx = 0;
  #tunnels = 0;
  #lastError: { readonly code: ErrorCode; readonly at: number } | undefined;
  /** True when routing may pick it: active in the registry and known healthy. */
  routable = false;
  /** Weight the strategies see: the registry weight, ramped by slow start. */
  effectiveWeight: number;
  /** This backend's circuit breaker, when breakers are on (cached here: no map lookup per request). */
  breaker: CircuitBreaker | undefined;
  /** Per-second responses, errors and latency over the last two minutes (dashboard, /stats). */
  readonly window: RollingWindow;
  /** Made on the first attempt (see latencyBuckets). */
  #latencyBuckets: Float64Array | undefined;
  latencySumSeconds = 0;
  latencyCount = 0;
  #connectionsOpened = 0;

  constructor(spec: BackendSpec, now: number, clock: () => number = Date.now) {
    this.window = new RollingWindow(120, clock);
    this.effectiveWeight = spec.weight;
    this.id = spec.id;
    this.url = spec.url;
    this.spec = spec;
    this.#healthChangedAt = now;
  }

  get health(): HealthStatus {
    return this.#health;
  }

  get healthChangedAt(): number {
    return this.#healthChangedAt;
  }

  /** When it last became healthy (0: never). */
  get healthySince(): number {
    return this.#healthySince;
  }

  /** The health checker's verdict changed at `at`. */
  setHealth(status: HealthStatus, at: number): void {
    this.#health = status;
    this.#healthChangedAt = at;
    if (status === 'healthy') this.#healthySince = at;
  }

  /** Requests open to this backend now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Attempts sent (retries count once per backend tried), WebSocket tunnels included. */
  get requests(): number {
    return this.#requests;
  }

  /** Attempts that failed at the transport level (refused, reset, timeout). */
  get failures(): number {
    return this.#failures;
  }

  get lastError(): { readonly code: ErrorCode; readonly at: number } | undefined {
    return this.#lastError;
  }

  /** Open WebSocket tunnels. */
  get tunnels(): number {
    return this.#tunnels;
  }

  /** Connections opened to this backend by the engine's pool. */
  get connectionsOpened(): number {
    return this.#connectionsOpened;
  }

  /** An attempt goes to it (counted in flight until attemptEnded). */
  attemptStarted(): void {
    this.#inFlight++;
    this.#requests++;
  }

  /** An attempt failed at the transport level with `code`, at `at`. */
  transportFailed(code: ErrorCode, at: number): void {
    this.#failures++;
    this.#lastError = { code, at };
  }

  connectionOpened(): void {
    this.#connectionsOpened++;
  }

  tunnelOpened(): void {
    this.#tunnels++;
    this.#requests++;
  }

  tunnelClosed(): void {
    this.#tunnels--;
  }

  /** Cumulative latency histogram for Prometheus: one count per bucket, the last is +Inf (all zero until the first attempt). */
  get latencyBuckets(): ArrayLike<number> {
    return this.#latencyBuckets ?? NO_LATENCIES;
  }

  get weight(): number {
    return this.effectiveWeight;
  }

  /** One attempt ended (no longer in flight): its duration and whether it failed (transport error or 5xx). */
  attemptEnded(micros: number, failed: boolean): void {
    this.#inFlight--;
    this.window.record(micros, failed);
    let i = 0;
    while (i < LATENCY_BUCKETS_MICROS.length && micros > LATENCY_BUCKETS_MICROS[i]!) i++;
    (this.#latencyBuckets ??= new Float64Array(LATENCY_BUCKETS_SECONDS.length + 1))[i]!++;
    this.latencySumSeconds += micros / 1e6;
    this.latencyCount++;
  }

  countStatus(status: number): void {
    if (status < 300) this.responses1xx2xx++;
    else if (status < 400) this.responses3xx++;
    else if (status < 500) this.responses4xx++;
    else this.responses5xx++;
  }
}
