import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../../common/errors.js';
import { sendError } from './error-response.js';
import type { IncomingCall } from './forwarder.js';
import { IncomingBody, type BodyEvents } from './incoming-body.js';
import { QueuePlace, type AdmissionHost, type AdmissionRequest } from './admission.js';
import type { RequestLimits } from './request-limits.js';
import type { PolicyVerdict } from './request-policy.js';
import type { BufferBudget } from './buffer-budget.js';

/** What a request parsed by http.Server needs from the balancer until an engine takes it. */
export interface CallHost {
  /** Admission and the count of requests in and out. */
  readonly gate: AdmissionHost;
  readonly limits: RequestLimits;
  readonly bodyBudget: BufferBudget;
  readonly shuttingDown: boolean;
  /** The backend's send timeout (ms): how long a backend may leave body bytes untaken. */
  readonly sendTimeoutMs: number;
  /** Hands the admitted request, its body ready, to the engine. */
  forward(req: IncomingMessage, res: ServerResponse, call: IncomingCall): void;
}

const enum Phase {
  New,
  Queued,
  Admitted,
  Forwarded,
  Done,
}

/**
 * A request http.Server parsed (the undici and http-proxy engines, upgrades
 * served as plain requests), from the policy's verdict to the engine, in
 * the raw engine's order: a body that fits the request buffer is received
 * first (unless the client waits for 100 Continue); then admission (the
 * same cap and queue as the raw engine's requests); then 100 Continue and
 * the body; then the engine. A client that stalls or oversteps before that
 * is answered here and its connection closed.
 */
export class HttpCall implements AdmissionRequest, BodyEvents, IncomingCall {
  readonly #host: CallHost;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly verdict: PolicyVerdict;
  readonly body: IncomingBody;
  #phase = Phase.New;
  readonly queue: QueuePlace;
  #bodyReady = false;

  constructor(host: CallHost, req: IncomingMessage, res: ServerResponse, v: PolicyVerdict) {
    this.#host = host;
    this.queue = new QueuePlace(this, host.gate);
    this.#req = req;
    this.#res = res;
    this.verdict = v;
    this.body = new IncomingBody(req, v, host.limits, host.bodyBudget, host.sendTimeoutMs, this);
  }

  start(): void {
    this.#res.once('close', () => this.#clientLeft());
    // A client waiting for 100 Continue is admitted first, then asked for its body.
    if (this.verdict.expectContinue && !this.body.complete) this.#host.gate.admit(this);
    else this.body.start();
  }

  // --- BodyEvents (until the engine takes them over) ---------------------------------

  bodyReady(): void {
    this.#bodyReady = true;
    if (this.#phase === Phase.New) this.#host.gate.admit(this);
    else if (this.#phase === Phase.Admitted) this.#forward();
  }

  clientFault(code: ErrorCode): void {
    if (this.#phase === Phase.Done || this.#phase === Phase.Forwarded) return;
    const phase = this.#phase;
    this.#phase = Phase.Done;
    this.#host.gate.countError(code);
    sendError(this.#res, code, this.verdict.requestId, true);
    if (phase === Phase.Admitted) this.#host.gate.requestDone();
    else if (phase === Phase.Queued) this.#leaveQueue();
    else this.#host.gate.requestRefused();
  }

  sendTimedOut(): void {
    // No backend has the request yet.
  }

  // --- AdmissionRequest --------------------------------------------------------------

  admitted(): void {
    if (this.#phase === Phase.Done) {
      this.#host.gate.requestDone();
      return;
    }
    this.#phase = Phase.Admitted;
    if (this.#bodyReady || this.body.complete) {
      this.#forward();
      return;
    }
    // 100 Continue only now, once the size checks and admission passed.
    if (!this.#res.headersSent) this.#res.writeContinue();
    this.body.start();
  }

  queued(): void {
    this.#phase = Phase.Queued;
  }

  refused(code: ErrorCode, retryAfterSeconds: number): void {
    this.#phase = Phase.Done;
    this.body.close();
    sendError(this.#res, code, this.verdict.requestId, this.#host.shuttingDown || !this.body.complete, retryAfterSeconds);
  }

  // --- internals ---------------------------------------------------------------------

  #forward(): void {
    this.#phase = Phase.Forwarded;
    this.#host.forward(this.#req, this.#res, this);
  }

  #leaveQueue(): void {
    this.queue.leave();
  }

  #clientLeft(): void {
    const phase = this.#phase;
    if (phase === Phase.Forwarded || phase === Phase.Done) return;
    this.#phase = Phase.Done;
    this.body.close();
    if (phase === Phase.Queued) this.#leaveQueue();
    else if (phase === Phase.Admitted) this.#host.gate.requestDone();
  }
}
