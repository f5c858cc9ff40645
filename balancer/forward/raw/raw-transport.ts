import type { Upstream } from '../../upstream.js';
import type { ChannelWaiter } from '../exchange/upstream-transport.js';
import { type EngineTransport, type PoolOptions } from '../forwarder.js';
import { PoolsByUpstream } from '../pools-by-upstream.js';
import { UpstreamPool } from './upstream-pool.js';

/** The raw engine: a pool of raw keep-alive connections per upstream (upstream-pool.ts), parsed by llhttp. */
export class RawTransport extends PoolsByUpstream<UpstreamPool> implements EngineTransport {
  constructor(o: PoolOptions, requestTimeoutMs: number, clientSendTimeoutMs: number) {
    super(
      (up) =>
        new UpstreamPool(up.url, {
          connections: o.connections,
          connectTimeoutMs: o.connectTimeoutMs,
          headersTimeoutMs: o.headersTimeoutMs,
          requestTimeoutMs,
          bodyTimeoutMs: o.bodyTimeoutMs,
          idleTimeoutMs: o.idleTimeoutMs,
          sendTimeoutMs: o.bodyTimeoutMs,
          clientSendTimeoutMs,
          onOpen: () => up.connectionOpened(),
        }),
    );
  }

  acquire(up: Upstream, w: ChannelWaiter, fresh: boolean): void {
    this.get(up).acquire(w, fresh);
  }

  /** The engine's timer: connections past their deadline fail or close. */
  sweep(now: number): void {
    for (const pool of this.all()) pool.sweep(now);
  }
}
