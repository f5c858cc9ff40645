import { Pool } from 'undici';
import type { Upstream } from '../../upstream.js';
import { KEEP_ALIVE_HINT_MARGIN_MS, type PoolOptions } from '../forwarder.js';
import { PoolsByUpstream } from '../pools-by-upstream.js';

/** The undici engine's connections: one undici Pool per backend (pools-by-upstream.ts). */
export class UndiciPools extends PoolsByUpstream<Pool> {
  constructor(options: PoolOptions) {
    super((up) => makePool(up, options));
  }

  /** Connections open to `up` now (0 before its first request). */
  connected(up: Upstream): number {
    return this.peek(up)?.stats.connected ?? 0;
  }

  override async destroy(): Promise<void> {
    await super.destroy().catch(() => undefined);
  }
}

function makePool(up: Upstream, o: PoolOptions): Pool {
  const pool = new Pool(up.url, {
    connections: o.connections,
    pipelining: 1,
    connectTimeout: o.connectTimeoutMs,
    headersTimeout: o.headersTimeoutMs,
    bodyTimeout: o.bodyTimeoutMs,
    // As the raw engine: the configured idle time, or a margin under the backend's Keep-Alive hint when that is shorter.
    keepAliveTimeout: o.idleTimeoutMs,
    keepAliveMaxTimeout: o.idleTimeoutMs,
    keepAliveTimeoutThreshold: KEEP_ALIVE_HINT_MARGIN_MS,
  });
  pool.on('connect', () => up.connectionOpened());
  // Connection failures are reported per request; the pool must not throw them.
  pool.on('connectionError', () => undefined);
  (pool as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  return pool;
}
