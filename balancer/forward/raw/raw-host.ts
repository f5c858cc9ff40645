import type { ErrorCode } from '../../../common/errors.js';
import type { QueueTicket, QueueWaiter } from '../../resilience/admission-control.js';
import type { PickContext } from '../../strategies/strategy.js';
import type { ForwardHost } from '../forwarder.js';

/** A request the raw engine parsed itself, going through the balancer's admission control. */
export interface AdmissionRequest extends QueueWaiter {
  /** It holds a slot: forward it (it calls `requestDone()` once it ends). */
  admitted(): void;
  /** It waits in the queue; `granted()` or `timedOut()` follows unless the ticket is cancelled. */
  queued(ticket: QueueTicket): void;
  /** Answer this error; no slot is held and the balancer has counted it. */
  refused(code: ErrorCode, retryAfterSeconds: number): void;
}

/** What the raw engine needs from the balancer beyond the ForwardHost seam. */
export interface RawHost extends ForwardHost {
  /** True when this request should carry X-LB-Decision (by its headers, without an IncomingMessage). */
  wantsExplanationFor(ctx: PickContext): boolean;
  /** Counts the request (in flight, total, retry budget deposit), then admits, queues or refuses it. */
  admit(r: AdmissionRequest): void;
  /** A queued request waited too long: the balancer counts and refuses it (503 SWY_QUEUE_TIMEOUT). */
  queuedTimedOut(r: AdmissionRequest): void;
  /** A queued request's client left, or broke its request (its ticket is cancelled). */
  queuedLeft(): void;
  /** A request answered with an error before it asked for admission (counted as a request, never in flight). */
  requestRefused(): void;
}
