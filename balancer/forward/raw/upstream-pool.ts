import type { ErrorCode } from '../../../common/errors.js';
import type { ChannelWaiter as PoolWaiter } from '../exchange/upstream-transport.js';
import { UpstreamConnection, type ConnectionOwner, type UpstreamPoolOptions } from './upstream-connection.js';

/**
 * Raw keep-alive connections to one backend: an idle stack (the most recently
 * used first, so a quiet period lets the others time out), a cap, a FIFO of
 * waiting requests. A new connection is opened for the request that asked for
 * it; when it fails to connect, only that request hears of it. (How many
 * may be uploads still arriving is the request core's business: upload-gate.ts.)
 */
export class UpstreamPool implements ConnectionOwner {
  readonly host: string;
  readonly port: number;
  /** host:port, for requests that came without a Host header. */
  readonly hostHeader: string;
  /** An https:// backend: connections are TLS (certificates verified, as undici does by default). */
  readonly tls: boolean;
  readonly options: UpstreamPoolOptions;
  readonly #idle: UpstreamConnection[] = [];
  readonly #all = new Set<UpstreamConnection>();
  readonly #opening = new Map<UpstreamConnection, PoolWaiter>();
  #waiters: PoolWaiter[] = [];
  #closing = false;
  #onEmpty: (() => void) | null = null;
  /** When the timer last ran (connections parked since count as idle from then). */
  #lastSweep = Date.now();

  constructor(url: string, options: UpstreamPoolOptions) {
    const u = new URL(url);
    this.host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    this.hostHeader = u.host;
    this.tls = u.protocol === 'https:';
    this.options = options;
  }

  /** Connections open or opening. */
  get size(): number {
    return this.#all.size;
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  /**
   * Gets `w` a connection: an idle one at once (synchronously), a new one
   * when under the cap, else a place in the queue. `fresh` skips idle ones
   * (a retry after a stale keep-alive connection).
   */
  acquire(w: PoolWaiter, fresh: boolean): void {
    if (!fresh) {
      const idle = this.#idle;
      while (idle.length > 0) {
        const c = idle.pop()!;
        if (c.idle) {
          w.onConnection(c);
          return;
        }
      }
    }
    if (this.#all.size < this.options.connections && !this.#closing) this.#open(w);
    else this.#waiters.push(w);
  }

  #open(w: PoolWaiter): void {
    const c = new UpstreamConnection(this);
    this.options.onOpen?.();
    this.#all.add(c);
    this.#opening.set(c, w);
  }

  /** @internal A new connection is up: to the request that opened it, or the next waiting. */
  connected(c: UpstreamConnection): void {
    const w = this.#opening.get(c);
    this.#opening.delete(c);
    if (w !== undefined && w.wantsConnection) w.onConnection(c);
    else this.release(c);
  }

  /** @internal A new connection could not be made. */
  connectFailed(c: UpstreamConnection, code: ErrorCode): void {
    const w = this.#opening.get(c);
    this.#opening.delete(c);
    if (w !== undefined && w.wantsConnection) w.onConnectFailed(code);
  }

  /** A connection whose response is complete and which may be reused. */
  release(c: UpstreamConnection): void {
    if (this.#closing) {
      c.destroy();
      return;
    }
    const waiters = this.#waiters;
    while (waiters.length > 0) {
      const w = waiters.shift()!;
      c.parked();
      if (w.wantsConnection) {
        w.onConnection(c);
        return;
      }
    }
    c.parked();
    this.#idle.push(c);
  }

  /** @internal A connection closed: forget it, and open another for a waiting request. */
  removed(c: UpstreamConnection): void {
    if (!this.#all.delete(c)) return;
    const opener = this.#opening.get(c);
    if (opener !== undefined) {
      this.#opening.delete(c);
      if (opener.wantsConnection) opener.onConnectFailed('SWY_UPSTREAM_RESET');
    }
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
    if (this.#closing) {
      if (this.#all.size === 0) this.#onEmpty?.();
      return;
    }
    while (this.#waiters.length > 0 && this.#all.size < this.options.connections) {
      const w = this.#waiters.shift()!;
      if (w.wantsConnection) {
        this.#open(w);
        break;
      }
    }
  }

  /**
   * Timer: connections past their deadline fail or close, and requests whose
   * overall deadline passed while they waited behind the busy connections
   * leave the queue: the backend never saw them, so it is not blamed.
   */
  sweep(now: number): void {
    const last = Math.min(this.#lastSweep, now);
    this.#lastSweep = now;
    for (const c of this.#all) c.checkDeadline(now, last);
    if (this.#waiters.length === 0) return;
    const t = performance.now();
    const expired: PoolWaiter[] = [];
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.wantsConnection) return false;
      if (w.deadlineAt > t) return true;
      expired.push(w);
      return false;
    });
    for (const w of expired) w.onNotSent('SWY_UPSTREAM_TIMEOUT');
  }

  /** Closes idle connections now and busy ones as they finish; resolves when none is left. */
  close(): Promise<void> {
    this.#closing = true;
    for (const w of this.#waiters.splice(0)) if (w.wantsConnection) w.onConnectFailed('SWY_UPSTREAM_UNREACHABLE');
    for (const c of [...this.#all]) if (c.idle || this.#opening.has(c)) c.destroy();
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#onEmpty = resolve));
  }

  /** Closes every connection at once. */
  destroy(): void {
    this.#closing = true;
    for (const c of [...this.#all]) c.destroy();
  }
}
