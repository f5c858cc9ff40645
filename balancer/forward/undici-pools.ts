import { Pool } from 'undici';
import type { Upstream } from '../upstream.js';
import type { PoolOptions } from './forwarder.js';

/** An idle backend connection closes after this long; a backend's keep-alive hint may shorten it, never lengthen it past the max. */
const KEEP_ALIVE_MS = 4_000;
const KEEP_ALIVE_MAX_MS = 60_000;

/**
 * The undici engine's connections: one Pool per backend, made on its first
 * request (a registry of 10,000 backends builds nothing for the ones never
 * used), closed when the backend leaves the registry.
 */
export class UndiciPools {
  readonly #options: PoolOptions;
  readonly #pools = new Map<Upstream, Pool>();
  /** Pools of backends that left the registry, kept (weakly) so a request that picked one just before is served by the same pool. */
  readonly #retired = new WeakMap<Upstream, Pool>();
  readonly #forgotten = new WeakSet<Upstream>();
  /** Pools closing (their backends left), until closed: close() waits for them, destroy() ends them. */
  readonly #closing = new Map<Pool, Promise<void>>();

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /**
   * The pool for `up`. A backend forgotten before its first request (picked
   * just before it was removed, dispatched after) gets a pool that serves the
   * request dispatched now (synchronously) and then closes.
   */
  get(up: Upstream): Pool {
    const pool = this.#pools.get(up) ?? this.#retired.get(up);
    if (pool !== undefined) return pool;
    const made = makePool(up.url, this.#options);
    made.on('connect', () => void up.connectionsOpened++);
    if (this.#forgotten.has(up)) {
      this.#retired.set(up, made);
      queueMicrotask(() => this.#close(made));
    } else this.#pools.set(up, made);
    return made;
  }

  /** Connections open to `up` now (0 before its first request). */
  connected(up: Upstream): number {
    return (this.#pools.get(up) ?? this.#retired.get(up))?.stats.connected ?? 0;
  }

  /** `up` left the registry: its pool takes no new requests and closes once those it has finish. */
  forget(up: Upstream): void {
    this.#forgotten.add(up);
    const pool = this.#pools.get(up);
    if (pool === undefined) return;
    this.#pools.delete(up);
    this.#retired.set(up, pool);
    this.#close(pool);
  }

  /** Closes every pool once its requests finish; resolves when all are closed (those of forgotten backends included). */
  async close(): Promise<void> {
    for (const up of [...this.#pools.keys()]) this.forget(up);
    await Promise.all(this.#closing.values());
  }

  /** Destroys every pool and the requests on it now. */
  async destroy(): Promise<void> {
    const pools = [...this.#pools.values(), ...this.#closing.keys()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }

  #close(pool: Pool): void {
    if (this.#closing.has(pool)) return;
    const done = pool
      .close()
      .catch(() => undefined)
      .finally(() => this.#closing.delete(pool));
    this.#closing.set(pool, done);
  }
}

function makePool(url: string, o: PoolOptions): Pool {
  const pool = new Pool(url, {
    connections: o.connections,
    pipelining: 1,
    connectTimeout: o.connectTimeoutMs,
    headersTimeout: o.headersTimeoutMs,
    bodyTimeout: o.bodyTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MAX_MS,
  });
  // Connection failures are reported per request; the pool must not throw them.
  pool.on('connectionError', () => undefined);
  (pool as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  return pool;
}
