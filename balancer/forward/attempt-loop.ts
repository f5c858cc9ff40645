import type { ErrorCode } from '../../common/errors.js';
import type { PickContext } from '../strategies/strategy.js';
import type { Upstream } from '../upstream.js';
import type { ForwardHost } from './forwarder.js';
import { deadlineLeft, mayRetry } from './retry-policy.js';

/** What the attempt loop reads and keeps of a request, on every engine. */
export interface RetryState extends PickContext {
  /** performance.now() when the request arrived (its --request-timeout runs from here). */
  readonly startedAt: number;
  /** Attempts made so far, the current one included. */
  readonly attempts: number;
  tried: Upstream[] | undefined;
  triedCodes: { id: string; code: string }[] | undefined;
  /** X-LB-Decision so far; null when the request did not ask for it. */
  decision: string | null;
}

/** The first pick of a request (X-LB-Decision started when it asks for one); undefined when no backend may take it. */
export function firstPick(host: ForwardHost, x: RetryState): Upstream | undefined {
  if (host.explainer.wants(x)) x.decision = '';
  const up = host.pick(x);
  if (x.decision !== null) x.decision = host.explainer.explain(x, up, 1, undefined, []);
  return up;
}

function retryPolicyAllows(host: ForwardHost, x: RetryState, method: string, code: ErrorCode, requestSent: boolean, bodyLost: boolean): boolean {
  return mayRetry({
    code,
    requestSent,
    method,
    hasBody: bodyLost,
    attempts: x.attempts,
    maxRetries: host.settings.maxRetries,
    retryOnTimeout: host.settings.retryOnTimeout,
    remainingMs: deadlineLeft(x.startedAt, host.settings.requestTimeoutMs),
  });
}

/**
 * After a failed attempt (`code`): may the request go to another backend? The
 * retry policy (retry-policy.ts: what failed, whether the request or a body
 * that cannot be replayed went out, attempts, the deadline), then the retry
 * budget, of which it takes one retry when it says yes.
 */
export function mayRetryAfter(host: ForwardHost, x: RetryState, method: string, code: ErrorCode, requestSent: boolean, bodyLost: boolean): boolean {
  return retryPolicyAllows(host, x, method, code, requestSent, bodyLost) && host.acquireRetry();
}

/**
 * `--retry-on-status`: the backend an answer from `up` is retried on, when
 * the policy allows it as if the connection had been reset after sending,
 * another backend is there, and the budget gives a retry (taken); undefined
 * otherwise, with nothing taken.
 */
export function statusRetryTarget(host: ForwardHost, x: RetryState, up: Upstream, method: string, bodyLost: boolean): Upstream | undefined {
  if (!retryPolicyAllows(host, x, method, 'SWY_UPSTREAM_RESET', true, bodyLost)) return undefined;
  const next = host.pick(x, x.tried ? [...x.tried, up] : [up]);
  if (next === undefined || !host.acquireRetry()) return undefined;
  return next;
}

/**
 * `up` failed (`why`: an error code, or `status-NNN`): it joins the backends
 * this request tried, and the next backend is `picked` (a status retry picked
 * it already) or picked now without them. X-LB-Decision records the step.
 * Returns the backend to try next; undefined when none is left.
 */
export function moveOn(host: ForwardHost, x: RetryState, up: Upstream, why: string, picked?: Upstream): Upstream | undefined {
  (x.tried ??= []).push(up);
  const next = picked ?? host.pick(x, x.tried);
  if (x.decision !== null) {
    (x.triedCodes ??= []).push({ id: up.id, code: why });
    x.decision = host.explainer.explain(x, next, x.attempts + 1, x.tried, x.triedCodes);
  }
  return next;
}
