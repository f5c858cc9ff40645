import type { Redis } from 'ioredis';

/** The part of an ioredis client the watch reads and acts on. */
export type WatchedConnection = Pick<Redis, 'status' | 'connect' | 'disconnect'>;

/**
 * Starts a Redis connection again when it stays not ready for `afterMs`.
 * ioredis bounds the TCP connect but not what follows (its ready check, the
 * role check behind Sentinel): a node that accepts and never answers, met
 * during a failover, would otherwise leave the connection waiting for good.
 * One that ended is connected again; 'reconnecting' is ioredis's own retry
 * and is left to it. Driven by its owner's tick.
 */
export class ReadyWatch {
  readonly #afterMs: number;
  /** Since when the connection has not been ready (0: it is). */
  #since = 0;

  constructor(afterMs: number) {
    this.#afterMs = afterMs;
  }

  /** Looks at the connection at `now`; the status it was stuck in when it acted on it, else undefined. */
  check(c: WatchedConnection, now: number): string | undefined {
    if (c.status === 'ready') {
      this.#since = 0;
      return undefined;
    }
    if (this.#since === 0) this.#since = now;
    if (now - this.#since < this.#afterMs) return undefined;
    this.#since = now;
    const status = c.status;
    if (status === 'end') c.connect().catch(() => undefined);
    else if (status === 'connecting' || status === 'connect') c.disconnect(true);
    else return undefined;
    return status;
  }
}
