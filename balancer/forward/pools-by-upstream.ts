import type { Upstream } from '../upstream.js';

/** A backend's connections, as an engine keeps them. */
export interface UpstreamConnections {
  /** Takes no new requests; resolves once those it has finished and every connection closed. */
  close(): Promise<void>;
  /** Closes every connection now, requests on them included. */
  destroy(): Promise<void> | void;
}

/**
 * An engine's connection pools, one per upstream, made on its first request
 * (a registry of 10,000 backends builds nothing for the ones never used) and
 * closed when the upstream leaves the registry. A request for an upstream
 * already forgotten (picked just before it was removed, sent after) gets a
 * pool of its own that serves what is sent now (synchronously) and then
 * closes; the last pool of a forgotten upstream is kept, weakly, for peek().
 */
export class PoolsByUpstream<P extends UpstreamConnections> {
  readonly #make: (up: Upstream) => P;
  readonly #pools = new Map<Upstream, P>();
  readonly #retired = new WeakMap<Upstream, P>();
  readonly #forgotten = new WeakSet<Upstream>();
  /** Pools closing (their backends left), until closed: close() waits for them, destroy() ends them. */
  readonly #closing = new Map<P, Promise<void>>();

  constructor(make: (up: Upstream) => P) {
    this.#make = make;
  }

  get(up: Upstream): P {
    const pool = this.#pools.get(up);
    if (pool !== undefined) return pool;
    const made = this.#make(up);
    if (this.#forgotten.has(up)) {
      this.#retired.set(up, made);
      queueMicrotask(() => this.#close(made));
    } else this.#pools.set(up, made);
    return made;
  }

  /** The pool of `up` if it has one (live or retired), without making one. */
  peek(up: Upstream): P | undefined {
    return this.#pools.get(up) ?? this.#retired.get(up);
  }

  /** Every pool, closing ones included. */
  *all(): IterableIterator<P> {
    yield* this.#pools.values();
    yield* this.#closing.keys();
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

  /** Closes every pool once its requests finish; resolves when all are closed (those of forgotten upstreams included). */
  async close(): Promise<void> {
    for (const up of [...this.#pools.keys()]) this.forget(up);
    await Promise.all(this.#closing.values());
  }

  /** Ends every pool and the requests on it now. */
  async destroy(): Promise<void> {
    const pools = [...this.#pools.values(), ...this.#closing.keys()];
    this.#pools.clear();
    this.#closing.clear();
    await Promise.all(pools.map(async (p) => p.destroy()));
  }

  #close(pool: P): void {
    if (this.#closing.has(pool)) return;
    const done = pool
      .close()
      .catch(() => undefined)
      .finally(() => this.#closing.delete(pool));
    this.#closing.set(pool, done);
  }
}
