import { isConnectFailure, type ErrorCode } from '../../common/errors.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/**
 * Time left of a request's overall deadline (--request-timeout), in ms, from
 * its arrival (`performance.now()` time); Infinity when it has none.
 */
export function deadlineLeft(startedAt: number, requestTimeoutMs: number | undefined): number {
  return deadlineAt(startedAt, requestTimeoutMs) - performance.now();
}

/** When a request's overall deadline passes (`performance.now()` time); Infinity when it has none. */
export function deadlineAt(startedAt: number, requestTimeoutMs: number | undefined): number {
  return requestTimeoutMs === undefined || requestTimeoutMs <= 0 ? Infinity : startedAt + requestTimeoutMs;
}

/**
 * How long one attempt may wait for its response head: its own limit, cut to
 * what is left of the request's overall deadline, and at least 1 ms (a timer
 * of 0 would mean "none" to Node and undici).
 */
export function headWaitMs(limitMs: number, startedAt: number, requestTimeoutMs: number | undefined): number {
  return Math.max(1, Math.min(limitMs, deadlineLeft(startedAt, requestTimeoutMs)));
}

export interface RetryFacts {
  readonly code: ErrorCode;
  /** True once the request started going out on a connection. */
  readonly requestSent: boolean;
  readonly method: string;
  readonly hasBody: boolean;
  /** Attempts made so far, the failed one included. */
  readonly attempts: number;
  readonly maxRetries: number;
  /** --retry-on-timeout: an idempotent request whose response head timed out may go elsewhere. */
  readonly retryOnTimeout?: boolean;
  /** Time left of the request's overall deadline; none when undefined. */
  readonly remainingMs?: number;
}

/**
 * Whether a failed attempt may be tried again on another backend. Only
 * failures before any response byte reach here (the caller checks).
 * - Connect-phase failures (refused, unreachable, connect timeout): the
 *   request never left, so any method may go elsewhere.
 * - A reset after sending: only idempotent methods without a body, or
 *   whose body was kept for replay (`hasBody` false then: nothing is lost).
 * - Never once the request's overall deadline has passed.
 * - Timeouts waiting for the response head are not retried (the backend may
 *   still be working on it), unless asked for (--retry-on-timeout): then an
 *   idempotent request is, under the same conditions as after a reset.
 */
export function mayRetry(f: RetryFacts): boolean {
  if (f.attempts > f.maxRetries) return false;
  if (f.remainingMs !== undefined && f.remainingMs <= 0) return false;
  if (!f.requestSent) return isConnectFailure(f.code) || f.code === 'SWY_UPSTREAM_RESET';
  const retriable = f.code === 'SWY_UPSTREAM_RESET' || (f.code === 'SWY_UPSTREAM_TIMEOUT' && f.retryOnTimeout === true);
  return retriable && isIdempotent(f.method) && !f.hasBody;
}
