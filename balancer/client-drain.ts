import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';

/** How often, while draining, connections are checked for idleness. */
const IDLE_CHECK_MS = 100;
/** An idle connection closes once it has been idle this long (or the keep-alive timeout, if shorter). */
const IDLE_GRACE_MS = 1000;

/** A listener beside the proxy port whose connections drain with it (balancer.ts adopt()). */
export interface Adopted {
  /** Stops accepting; resolves once its connections are closed. */
  close(): Promise<void>;
  /** Connections idle for `ms` close (called again and again while draining). */
  closeIdleConnections?(ms: number): void;
  closeAllConnections?(): void;
}

export interface DrainHost {
  /** Resolves true once no request is in flight, false after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<boolean>;
  /** Closes client connections with nothing under way and no byte moved for at least `ms`. */
  closeIdle(ms: number): void;
}

/**
 * How long a drained connection may sit idle before it is closed: closing one at once
 * races a request the client may already have sent on it (it then sees a reset, not a
 * response). Clients that honour the `Keep-Alive: timeout` hint stop reusing a
 * connection before the keep-alive timeout, so no grace needs to be longer than it.
 */
export function idleGraceMs(keepAliveTimeoutMs: number): number {
  return keepAliveTimeoutMs > 0 ? Math.min(IDLE_GRACE_MS, keepAliveTimeoutMs) : IDLE_GRACE_MS;
}

/**
 * Stops `server` accepting connections and leaves the open ones alone (http.Server's
 * own close() would also close idle ones at once); resolves when the last one has closed.
 */
export function stopAccepting(server: Server): Promise<void> {
  return new Promise((resolve) => NetServer.prototype.close.call(server, () => resolve()));
}

/**
 * The graceful part of a shutdown, once nothing new is accepted: requests in flight
 * finish (their responses say `Connection: close`), idle connections close after the
 * grace, and it resolves when `closed` (every client connection gone) settles or the
 * timeout passes. True when every request finished in time.
 */
export async function drainClients(closed: Promise<unknown>, host: DrainHost, timeoutMs: number, graceMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const timer = setInterval(() => host.closeIdle(graceMs), IDLE_CHECK_MS);
  try {
    const requestsDone = await host.waitIdle(timeoutMs);
    if (requestsDone) await settledWithin(closed, deadline - Date.now());
    return requestsDone;
  } finally {
    clearInterval(timer);
  }
}

function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    p.then(done, done);
  });
}
