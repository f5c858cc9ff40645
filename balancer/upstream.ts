import { Pool } from 'undici';
import type { BackendSpec } from '../common/backend.js';
import type { ErrorCode } from '../common/errors.js';
import type { UpstreamPool } from './forward/raw/upstream-pool.js';
import type { HealthStatus } from './health/health-state.js';
import type { CircuitBreaker } from './resilience/circuit-breaker.js';
import { RollingWindow } from './stats/rolling-window.js';
import type { Candidate } from './strategies/strategy.js';

/** Upper bounds (seconds) of the Prometheus latency histogram buckets. */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const LATENCY_BUCKETS_MICROS = LATENCY_BUCKETS_SECONDS.map((s) => s * 1e6);
const NO_LATENCIES: ArrayLike<number> = Object.freeze(new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0));

export interface PoolOptions {
  /** Most connections to one backend; requests beyond wait in the pool's queue. */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

/**
 * One backend as the balancer holds it: the registry's spec, its connection
 * pool, its health and plain counters. Counters are fields, not maps, so the
 * hot path only increments.
 */
export class Upstream implements Candidate {
  readonly id: string;
  readonly url: string;
  spec: BackendSpec;
  health: HealthStatus = 'unknown';
  healthChangedAt: number;
  /** Requests open to this backend now. */
  inFlight = 0;
  /** Attempts sent (retries count once per backend tried). */
  requests = 0;
  /** Attempts that failed at the transport level (refused, reset, timeout). */
  failures = 0;
  responses1xx2xx = 0;
  responses3xx = 0;
  responses4xx = 0;
  responses5xx = 0;
  /** Open WebSocket tunnels. */
  tunnels = 0;
  lastError: { code: ErrorCode; at: number } | undefined;
  /** True when routing may pick it: active in the registry and known healthy. */
  routable = false;
  /** Weight the strategies see: the registry weight, ramped by slow start. */
  effectiveWeight: number;
  /** When the backend last became healthy (slow start ramps from here). */
  healthySince = 0;
  /** This backend's circuit breaker, when breakers are on (cached here: no map lookup per request). */
  breaker: CircuitBreaker | undefined;
  /** Per-second responses, errors and latency over the last two minutes (dashboard, /stats). */
  readonly window: RollingWindow;
  /** Made on the first attempt (see latencyBuckets). */
  #latencyBuckets: Float64Array | undefined;
  latencySumSeconds = 0;
  latencyCount = 0;
  /** The raw engine's connections to this backend, made on its first request there (undefined with other engines). */
  rawPool: UpstreamPool | undefined = undefined;
  /** The undici pool's wait for a response head, for attempts that have less time left. */
  readonly headersTimeoutMs: number;
  readonly #poolOptions: PoolOptions;
  #pool: Pool | undefined;
  /** Connections opened to this backend by any engine's pool. */
  connectionsOpened = 0;
  /** closePool() or destroyPool() was called: a pool made after that closes once its first request is done. */
  #poolClosed = false;

  constructor(spec: BackendSpec, pool: PoolOptions, now: number, clock: () => number = Date.now) {
    this.window = new RollingWindow(120, clock);
    this.effectiveWeight = spec.weight;
    this.id = spec.id;
    this.url = spec.url;
    this.spec = spec;
    this.healthChangedAt = now;
    this.headersTimeoutMs = pool.headersTimeoutMs;
    this.#poolOptions = pool;
  }

  /**
   * The undici engine's connections to this backend, made on its first
   * request there: a registry of 10,000 backends builds no transport object
   * for the ones never used, nor for engines that do not use undici.
   */
  get pool(): Pool {
    if (this.#pool) return this.#pool;
    const pool = (this.#pool = makePool(this.url, this.#poolOptions));
    pool.on('connect', () => void this.connectionsOpened++);
    // Picked just before it was removed, first used after: the request the caller
    // dispatches now (synchronously) runs, then the pool closes with nothing left behind.
    if (this.#poolClosed) queueMicrotask(() => void pool.close().catch(() => undefined));
    return pool;
  }

  /** Closes the undici pool once its requests finish; nothing to do when it was never made. */
  async closePool(): Promise<void> {
    this.#poolClosed = true;
    await this.#pool?.close();
  }

  /** Destroys the undici pool and its open requests at once. */
  async destroyPool(): Promise<void> {
    this.#poolClosed = true;
    await this.#pool?.destroy();
  }

  /** Cumulative latency histogram for Prometheus: one count per bucket, the last is +Inf (all zero until the first attempt). */
  get latencyBuckets(): ArrayLike<number> {
    return this.#latencyBuckets ?? NO_LATENCIES;
  }

  get weight(): number {
    return this.effectiveWeight;
  }

  /** Records one finished attempt: its duration and whether it failed (transport error or 5xx). */
  recordAttempt(micros: number, failed: boolean): void {
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

function makePool(url: string, o: PoolOptions): Pool {
  const pool = new Pool(url, {
    connections: o.connections,
    pipelining: 1,
    connectTimeout: o.connectTimeoutMs,
    headersTimeout: o.headersTimeoutMs,
    bodyTimeout: o.bodyTimeoutMs,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
  });
  // Connection failures are reported per request; the pool must not throw them.
  pool.on('connectionError', () => undefined);
  (pool as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  return pool;
}
