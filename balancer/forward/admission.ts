import type { ErrorCode } from '../../common/errors.js';
import type { RATE_PENDING, RateLimited, RateWaiter } from '../edge/rate-limiter.js';
import type { QueueTicket, QueueWaiter } from '../resilience/admission-control.js';

/** A request going through the balancer's admission control (parsed by the raw engine or by http.Server). */
export interface AdmissionRequest {
  /** It holds a slot: forward it (it calls `requestDone()` once it ends). */
  admitted(): void;
  /** It waits in the queue (the gate made `queue` hold its ticket); the queue answers `queue` unless the ticket is cancelled. */
  queued(): void;
  /** Its place in the queue, and what the queue answers. */
  readonly queue: QueuePlace;
  /** Answer this error; no slot is held and the balancer has counted it. */
  refused(code: ErrorCode, retryAfterSeconds: number): void;
}

/** The balancer's request gate (request-gate.ts) as a request sees it: admission, and counting requests in and out. */
export interface AdmissionHost {
  /** Counts the request (in flight, total, retry budget deposit), then admits, queues or refuses it. */
  admit(r: AdmissionRequest): void;
  /** A queued request waited too long: the balancer counts and refuses it (503 SWY_QUEUE_TIMEOUT). */
  queuedTimedOut(r: AdmissionRequest): void;
  /** A queued request's client left, or broke its request (its ticket is cancelled). */
  queuedLeft(): void;
  /** A request answered with an error before it asked for admission (counted as a request, never in flight). */
  requestRefused(): void;
  /** An admitted request ended, however it ended: its slot is free again. */
  requestDone(): void;
  /** A request answered with an error from the catalogue. */
  countError(code: ErrorCode): void;
  /**
   * Rate limits (--rate-limits): undefined when the request may go on, else what to answer (429);
   * RATE_PENDING when the shared store answers later, to `waiter`.
   */
  rateLimited(path: string, clientIp: string, headers: readonly string[], waiter: RateWaiter): RateLimited | undefined | typeof RATE_PENDING;
  /** The key authorization to answer for an ACME HTTP-01 challenge at `path`, when this deployment asked for one. */
  acmeAnswer(path: string): string | undefined;
  /** Seconds left of the ban on `clientIp` (--ban-after), or undefined when it is not banned. */
  bannedFor(clientIp: string): number | undefined;
  /** `clientIp` was refused with `code`: it counts towards a ban. */
  strike(clientIp: string, code: ErrorCode): void;
}

/**
 * A request's place in the admission queue, held from `queued()` until the
 * queue answers (a slot: the request is admitted; too long a wait: the gate
 * refuses it) or the client leaves.
 */
export class QueuePlace implements QueueWaiter {
  readonly #request: AdmissionRequest;
  readonly #gate: AdmissionHost;
  #ticket: QueueTicket | null = null;

  constructor(request: AdmissionRequest, gate: AdmissionHost) {
    this.#request = request;
    this.#gate = gate;
  }

  granted(): void {
    if (this.settle()) this.#request.admitted();
  }

  timedOut(): void {
    if (this.settle()) this.#gate.queuedTimedOut(this.#request);
  }

  /** The request was queued with `ticket`. */
  hold(ticket: QueueTicket): void {
    this.#ticket = ticket;
  }

  /** The queue answered (granted, or timed out): true when the place was still held, which it no longer is. */
  settle(): boolean {
    if (this.#ticket === null) return false;
    this.#ticket = null;
    return true;
  }

  /** The client left or broke its request while queued: the place is given back and the gate told. */
  leave(): void {
    this.#ticket?.cancel();
    this.#ticket = null;
    this.#gate.queuedLeft();
  }
}
