import { httpsLocation } from '../../edge/https-redirect.js';
import { RATE_PENDING, type RateLimited, type RateWaiter } from '../../edge/rate-limiter.js';
import { ERROR_CATALOGUE, type ErrorCode } from '../../../common/errors.js';
import type { Outcome } from '../../resilience/outcome.js';
import type { PickContext } from '../../strategies/strategy.js';
import type { Upstream } from '../../upstream.js';
import { QueuePlace, type AdmissionRequest } from '../admission.js';
import { logRequest } from '../access-log.js';
import { closeAttempt } from '../attempt-accounting.js';
import { firstPick, mayRetryAfter, moveOn, statusRetryTarget } from '../attempt-loop.js';
import type { BufferBudget } from '../buffer-budget.js';
import type { ForwardHost } from '../forwarder.js';
import type { RequestLimits } from '../request-limits.js';
import type { UploadGate, UploadWaiter } from '../upload-gate.js';
import { BodyFraming, rawHeaderValue, type PolicyVerdict } from '../request-policy.js';
import { filterTrailers } from '../response-policy.js';
import { deadlineAt, isIdempotent } from '../retry-policy.js';
import type { Answering, ClientSide } from './client-side.js';
import {
  BODY_NONE,
  BODY_STREAMED,
  type ChannelWaiter,
  type OutgoingRequest,
  type ResponseSink,
  type UpstreamChannel,
  type UpstreamTransport,
} from './upstream-transport.js';

/** What an exchange needs from the engine around it. */
export interface ExchangeDeps {
  readonly host: ForwardHost;
  readonly transport: UpstreamTransport;
  readonly retryOnStatus: ReadonlySet<number> | null;
  readonly limits: RequestLimits;
  readonly bodyBudget: BufferBudget;
  /** The share of a backend's connections uploads still arriving may hold. */
  readonly uploads: UploadGate;
}

/** Body bytes of a streaming upload held while no backend connection is attached, before the client is paused. */
const BODY_BUFFER_LIMIT = 64 * 1024;

const enum Phase {
  New,
  Queued,
  Admitted,
  Done,
}

/**
 * One client request through its attempts, whatever listener took it (the
 * ClientSide) and whatever transport carries it (the UpstreamTransport):
 * admission, body buffering and replay, pick, the attempt loop (retry
 * policy, budget, deadline, stale connections, statuses to retry), blame,
 * accounting, the headers the balancer adds, error answers and the access
 * log. It is also the strategy's PickContext, the admission queue's waiter,
 * the transport's waiter and the response sink of its channel.
 *
 * Order of events: the policy's verdict (a refusal is answered when the
 * request's turn comes); a body up to --request-buffer is received in full
 * first (unless the client waits for 100 Continue); admission; 100 Continue;
 * the body, if the client waited; then a backend and a connection. A body
 * received in full goes upstream with Content-Length, a streaming one with
 * the client's framing (Content-Length, or re-chunked).
 */
export class Exchange implements PickContext, AdmissionRequest, ChannelWaiter, ResponseSink, UploadWaiter, OutgoingRequest, Answering, RateWaiter {
  readonly #client: ClientSide<Exchange>;
  readonly #engine: ExchangeDeps;
  readonly #host: ForwardHost;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  /** The forwarded fields (the policy's verdict). */
  readonly headers: readonly string[];
  /** The client's fields as it sent them. */
  readonly rawHeaders: string[];
  readonly http10: boolean;
  /** The client asked to close after this response (Connection: close, HTTP/1.0 without keep-alive). */
  readonly clientClose: boolean;
  readonly expectContinue: boolean;
  readonly bodyKind: BodyFraming;
  /** The client: the peer, or behind a trusted proxy the address it forwarded (strategies, access log). */
  readonly clientIp: string;
  /** The request came over TLS. */
  readonly secure: boolean;
  /** The request is refused (by the policy, or the client broke it before its turn): answer this and close. */
  #refusal: ErrorCode | undefined;
  readonly startedAt: number;
  #phase = Phase.New;
  /** Made when the request is queued (most never are: no object per request for it). */
  #queue: QueuePlace | undefined;
  requestId: string;
  /** First in its connection's line (its response may be written). */
  #activated = false;
  /** The shared rate limits have not answered yet (admission waits for them). */
  #ratePending = false;
  #admissionAsked = false;
  #started = false;
  #continueSent = false;
  upstream: Upstream | undefined;
  attempts = 0;
  attemptStartedAt = 0;
  headMs = -1;
  status = 0;
  tried: Upstream[] | undefined;
  triedCodes: { id: string; code: string }[] | undefined;
  decision: string | null = null;
  attemptOpen = false;
  clientGone = false;
  #conn: UpstreamChannel | null = null;
  #waitingForConnection = false;
  #staleRetried = false;
  /** The backend whose upload slot this request holds while its body is still arriving, or waits for. */
  #uploadSlot: Upstream | null = null;
  #uploadQueued: Upstream | null = null;
  // request body
  #bodyParts: Buffer[] | null = null;
  #bodyBuffered = 0;
  /** Body bytes received from the client so far. */
  #bodyReceived = 0;
  #requestEnded: boolean;
  /** Content-Length the client declared (-1: none). */
  readonly #lengthDeclared: number;
  /** The body is held until complete before the request goes on (it fits the request buffer). */
  #buffering: boolean;
  /** Bytes reserved in the engine's body budget, returned when the exchange ends. */
  #reserved = 0;
  /** Every body chunk so far, while the body fits --retry-body-limit (null: not kept). */
  #replay: Buffer[] | null = null;
  #replayBytes = 0;
  // response
  #responseStarted = false;
  /** The client connection closes after this response. */
  closeAfter: boolean;

  /** `v`: the policy's verdict for this request (read here, not kept). */
  constructor(client: ClientSide<Exchange>, engine: ExchangeDeps, method: string, v: PolicyVerdict, rawHeaders: string[], http10: boolean, keepAlive: boolean) {
    this.#client = client;
    this.#engine = engine;
    this.#host = engine.host;
    this.method = method;
    this.path = v.path;
    this.rawHeaders = rawHeaders;
    this.http10 = http10;
    this.#refusal = v.refusal;
    this.clientClose = !keepAlive || v.refusal !== undefined;
    this.closeAfter = this.clientClose;
    this.expectContinue = v.expectContinue;
    this.bodyKind = v.body;
    this.requestId = v.requestId;
    this.clientIp = v.clientIp;
    this.secure = v.secure;
    this.startedAt = performance.now();
    this.host = v.host;
    this.headers = v.headers;
    this.#lengthDeclared = v.length;
    const noBody = v.refusal !== undefined || v.body === BodyFraming.None || v.length === 0;
    this.#requestEnded = noBody;
    const limits = engine.limits;
    // A body the request buffer holds is received in full before anything else (if the budget has room).
    this.#buffering = !noBody && (v.body === BodyFraming.Chunked || (v.length <= limits.requestBuffer && this.#reserve(v.length)));
    if (!noBody && (engine.host.settings.retryBodyLimit ?? 0) > 0) this.#replay = [];
  }

  #reserve(n: number): boolean {
    if (!this.#engine.bodyBudget.reserve(n)) return false;
    this.#reserved += n;
    return true;
  }

  /**
   * True when a retry would lose nothing of the request: it has no body, or
   * its whole body was received and kept for replay.
   */
  #bodyLost(): boolean {
    return this.#bodyReceived > 0 && !(this.#requestEnded && this.#replay !== null);
  }

  get done(): boolean {
    return this.#phase === Phase.Done;
  }

  get wantsConnection(): boolean {
    return this.#waitingForConnection && !this.clientGone && this.#phase === Phase.Admitted;
  }

  get deadlineAt(): number {
    return deadlineAt(this.startedAt, this.#host.settings.requestTimeoutMs);
  }

  get uploading(): boolean {
    return !this.#requestEnded;
  }

  /**
   * The request is waiting for body bytes only the client can send (the
   * client body timeout runs): not while it waits for 100 Continue from us.
   */
  get waitsForClientBody(): boolean {
    return !this.#requestEnded && this.#phase !== Phase.Done && (!this.expectContinue || this.#continueSent || this.#bodyReceived > 0);
  }

  /** A response (or part of one) has been written to the client. */
  get responseStarted(): boolean {
    return this.#responseStarted;
  }

  header(name: string): string | undefined {
    return rawHeaderValue(this.rawHeaders, name);
  }

  /** First in its connection's line: a refusal is answered now; a request asks for admission once its body is in (or streams). */
  activate(): void {
    this.#activated = true;
    const gate = this.#host.gate;
    const banned = gate.bannedFor(this.clientIp);
    if (banned !== undefined) {
      this.closeAfter = true;
      this.#refuseBeforeAdmission('SWY_BANNED', banned);
      return;
    }
    const refusal = this.#refusal;
    if (refusal !== undefined) {
      this.closeAfter = true;
      gate.strike(this.clientIp, refusal);
      this.#refuseBeforeAdmission(refusal, undefined);
      return;
    }
    const challenge = gate.acmeAnswer(this.path);
    if (challenge !== undefined) {
      this.#answerLocally(
        200,
        'OK',
        ['content-type', 'text/plain', 'content-length', String(Buffer.byteLength(challenge)), 'cache-control', 'no-store'],
        challenge,
      );
      return;
    }
    const redirect = this.secure ? undefined : httpsLocation(this.#host.settings.httpsRedirectPort, this.host, this.path);
    if (redirect !== undefined) {
      this.#answerLocally(308, 'Permanent Redirect', ['location', redirect, 'content-length', '0']);
      return;
    }
    const limited = gate.rateLimited(this.path, this.clientIp, this.rawHeaders, this);
    if (limited === RATE_PENDING) this.#ratePending = true;
    else this.rateDecided(limited);
  }

  /** The rate limits' answer: at once, or from the store shared by every balancer (the body keeps arriving meanwhile). */
  rateDecided(limited: RateLimited | undefined): void {
    this.#ratePending = false;
    if (this.#phase === Phase.Done || this.clientGone) return;
    if (limited !== undefined) {
      // The connection stays usable once the body (if any) is read: a client told to wait may come back on it.
      if (limited.code === undefined) this.#host.gate.strike(this.clientIp, 'SWY_RATE_LIMITED');
      this.#refuseBeforeAdmission(limited.code ?? 'SWY_RATE_LIMITED', limited.retryAfterSeconds, limited.headers);
      return;
    }
    this.#tryAdmit();
  }

  /** A local answer that is not an error (the redirect to HTTPS, an ACME challenge): counted as a request, never in flight. */
  #answerLocally(status: number, statusText: string, headers: readonly string[], body?: string): void {
    this.#phase = Phase.Done;
    this.#releaseBody();
    this.#host.gate.requestRefused();
    this.status = status;
    if (!this.#requestEnded) this.closeAfter = true;
    if (!this.clientGone) {
      this.#client.sendHead(this, status, statusText, headers, ['x-request-id', this.requestId]);
      if (body !== undefined && this.method !== 'HEAD') this.#client.sendBody(Buffer.from(body));
      this.#client.endResponse(null);
    }
    this.#client.exchangeDone(this);
  }

  /** Answered before admission: counted as a request, never in flight. */
  #refuseBeforeAdmission(code: ErrorCode, retryAfter: number | undefined, headers?: readonly string[]): void {
    this.#phase = Phase.Done;
    this.#releaseBody();
    this.#host.gate.countError(code);
    this.#host.gate.requestRefused();
    this.#writeError(code, retryAfter, headers);
    this.#client.exchangeDone(this);
  }

  #tryAdmit(): void {
    if (!this.#activated || this.#ratePending || this.#admissionAsked || this.#phase === Phase.Done) return;
    if (this.#buffering && !this.#requestEnded && !this.expectContinue) return;
    this.#admissionAsked = true;
    this.#host.gate.admit(this);
  }

  // --- admission --------------------------------------------------------------

  admitted(): void {
    this.#phase = Phase.Admitted;
    // 100 Continue only now that the size checks and admission passed, and only if the body has not started.
    if (this.expectContinue && !this.#requestEnded && this.#bodyReceived === 0 && !this.#continueSent) {
      this.#continueSent = true;
      this.#client.sendContinue();
    }
    this.#tryStart();
  }

  #tryStart(): void {
    if (this.#phase !== Phase.Admitted || this.#started) return;
    if (this.#buffering && !this.#requestEnded) return;
    this.#started = true;
    this.#start();
  }

  get queue(): QueuePlace {
    return (this.#queue ??= new QueuePlace(this, this.#host.gate));
  }

  queued(): void {
    this.#phase = Phase.Queued;
  }

  refused(code: ErrorCode, retryAfterSeconds: number): void {
    this.#phase = Phase.Done;
    this.#releaseBody();
    this.#writeError(code, retryAfterSeconds);
    this.#client.exchangeDone(this);
  }

  // --- attempts ---------------------------------------------------------------

  #start(): void {
    const up = firstPick(this.#host, this);
    if (up === undefined) {
      this.#fail('SWY_NO_BACKEND');
      return;
    }
    this.#send(up);
  }

  #send(up: Upstream): void {
    this.upstream = up;
    this.attempts++;
    this.attemptOpen = true;
    this.headMs = -1;
    this.status = 0;
    this.attemptStartedAt = performance.now();
    up.attemptStarted();
    this.#waitingForConnection = true;
    if (!this.#requestEnded) {
      // A body still arriving holds its connection for as long as its client takes: only so many may.
      if (!this.#engine.uploads.acquire(up, this)) {
        this.#uploadQueued = up;
        return;
      }
      this.#uploadSlot = up;
    }
    this.#engine.transport.acquire(up, this, false);
  }

  uploadSlotFree(up: Upstream): void {
    this.#uploadQueued = null;
    if (!this.wantsConnection) {
      this.#engine.uploads.release(up);
      return;
    }
    this.#uploadSlot = up;
    this.#engine.transport.acquire(up, this, false);
  }

  /** The body is all in (or the attempt is over): the upload slot goes back, a wait for one ends. */
  #dropUpload(): void {
    const held = this.#uploadSlot;
    if (held !== null) {
      this.#uploadSlot = null;
      this.#engine.uploads.release(held);
    }
    const queued = this.#uploadQueued;
    if (queued !== null) {
      this.#uploadQueued = null;
      this.#engine.uploads.cancel(queued, this);
    }
  }

  onConnection(conn: UpstreamChannel): void {
    this.#waitingForConnection = false;
    this.#conn = conn;
    // The framing is the proxy's own: a body held in full goes with its exact length,
    // one still arriving keeps the client's Content-Length or is framed by the transport.
    const length = this.#requestEnded
      ? this.bodyKind === BodyFraming.None
        ? BODY_NONE
        : this.#bodyReceived
      : this.bodyKind === BodyFraming.Chunked
        ? BODY_STREAMED
        : this.#lengthDeclared;
    const parts = this.#bodyParts;
    this.#bodyParts = null;
    this.#bodyBuffered = 0;
    const ok = conn.send(this, this, length, parts, this.#requestEnded);
    if (parts === null) return;
    if (ok) this.#client.resumeForBody();
  }

  onConnected(): void {
    this.#host.connectionWait.record(performance.now() - this.attemptStartedAt);
  }

  onConnectFailed(code: ErrorCode): void {
    this.#conn = null;
    this.#waitingForConnection = false;
    this.#attemptFailed(code, false);
  }

  onNotSent(code: ErrorCode): void {
    this.#conn = null;
    this.#waitingForConnection = false;
    if (this.clientGone || this.#phase === Phase.Done) return;
    this.#closeAttempt('cancelled');
    this.#fail(code);
  }

  // --- request body (from the client connection's parser) ---------------------

  onRequestBody(chunk: Buffer): void {
    if (this.#phase === Phase.Done || this.clientGone) return;
    this.#bodyReceived += chunk.length;
    const maxBody = this.#engine.limits.maxBodySize;
    if (maxBody > 0 && this.#bodyReceived > maxBody) {
      // Only a chunked body can get here (a declared length was checked by the policy).
      this.#clientFault('SWY_BODY_TOO_LARGE');
      return;
    }
    const replay = this.#replay;
    if (replay !== null) {
      // llhttp hands over a copy of the bytes: keeping the reference is enough.
      this.#replayBytes += chunk.length;
      if (this.#replayBytes <= (this.#host.settings.retryBodyLimit ?? 0)) replay.push(chunk);
      else this.#replay = null;
    }
    const conn = this.#conn;
    if (conn !== null) {
      if (!conn.writeBody(chunk)) this.#client.pauseForBody();
      return;
    }
    (this.#bodyParts ??= []).push(chunk);
    this.#bodyBuffered += chunk.length;
    if (this.#buffering) {
      // A chunked body that outgrows the request buffer (or the budget) streams from here on.
      if (this.bodyKind === BodyFraming.Chunked && (this.#bodyReceived > this.#engine.limits.requestBuffer || !this.#reserve(chunk.length))) {
        this.#buffering = false;
        this.#tryAdmit();
        this.#tryStart();
      }
      return;
    }
    if (this.#bodyBuffered > BODY_BUFFER_LIMIT) this.#client.pauseForBody();
  }

  onRequestEnd(): void {
    if (this.#requestEnded) return;
    this.#requestEnded = true;
    if (this.#phase === Phase.Done || this.clientGone) return;
    const queued = this.#uploadQueued;
    this.#dropUpload();
    // It waited for an upload slot: no longer an upload, it asks for a connection at once.
    if (queued !== null) this.#engine.transport.acquire(queued, this, false);
    const conn = this.#conn;
    if (conn !== null) conn.endBody();
    else {
      this.#tryAdmit();
      this.#tryStart();
    }
    // The whole body is in: a pause for its sake ends here. A transport may never signal the drain
    // of an upload that has ended (undici reads an ended body no more), and the connection's next
    // request must not wait for it.
    this.#client.resumeForBody();
  }

  onUpstreamDrain(): void {
    this.#client.resumeForBody();
  }

  /**
   * The client broke its own request (a stalled or oversized body): nothing
   * counts against the backend; the client gets the error if no response has
   * started (else its connection is cut), and the connection closes. A
   * request whose turn has not come yet answers when it comes.
   */
  #clientFault(code: ErrorCode): void {
    this.closeAfter = true;
    this.#client.readNoMore();
    if (!this.#activated) {
      this.#refusal = code;
      this.#releaseBody();
      return;
    }
    this.#cancelAttempt();
    if (this.#responseStarted) {
      this.#finish(code);
      this.#client.cut();
      return;
    }
    this.#host.gate.countError(code);
    this.#writeError(code, undefined);
    if (this.#phase === Phase.Admitted) this.#finish(code);
    else {
      // Not holding a slot: a queued request gives its place back, a new one is counted here.
      if (this.#phase === Phase.Queued) this.#leaveQueue();
      else this.#host.gate.requestRefused();
      this.#phase = Phase.Done;
      this.#releaseBody();
    }
    this.#client.exchangeDone(this);
  }

  /** The client body timeout passed (the client connection's timer). */
  bodyTimedOut(): void {
    if (this.#phase === Phase.Done || this.clientGone) return;
    this.#clientFault('SWY_BODY_TIMEOUT');
  }

  // --- response (from the backend connection's parser) ------------------------

  onResponseHead(status: number, statusText: string, headers: string[]): void {
    const up = this.upstream!;
    this.status = status;
    this.headMs = performance.now() - this.attemptStartedAt;
    const retry = this.#engine.retryOnStatus;
    if (retry !== null && retry.has(status) && this.#statusRetry(up, status)) return;
    up.countStatus(status);
    const host = this.#host;
    const extra: string[] = [];
    if (host.settings.backendHeader) extra.push('x-backend', up.id);
    extra.push('x-request-id', this.requestId);
    const cookie = host.stickyCookie(this, up);
    if (cookie !== undefined) extra.push('set-cookie', cookie);
    if (this.decision !== null) extra.push('x-lb-decision', this.decision);
    if (this.secure && host.settings.hsts !== undefined) extra.push('strict-transport-security', host.settings.hsts);
    // An answer before the whole request body came (an early response): the rest of that body is never read.
    if (host.shuttingDown || !this.#requestEnded) this.closeAfter = true;
    this.#responseStarted = true;
    this.#client.sendHead(this, status, statusText, headers, extra);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.clientGone) return;
    // Up to the client side's buffer is held for a slow client; past it the backend waits for the client.
    if (!this.#client.sendBody(chunk)) this.#conn?.pauseForClient();
  }

  cork(): void {
    this.#client.cork();
  }

  uncork(): void {
    this.#client.uncork();
  }

  /** The client connection drained: let the backend send again. */
  onClientDrain(): void {
    this.#conn?.resumeForClient();
  }

  /** The client took nothing for the client send timeout: cut it; the backend is not blamed. */
  onClientStalled(): void {
    this.#conn = null;
    if (this.#phase === Phase.Done) return;
    if (this.attemptOpen) this.#closeAttempt('cancelled');
    this.#finish('client stalled');
    this.#client.cut();
  }

  onResponseComplete(trailers: string[] | null): void {
    this.#conn = null;
    this.#closeAttempt(this.status >= 500 ? 'failure' : 'success');
    if (!this.clientGone) this.#client.endResponse(trailers === null ? null : filterTrailers(trailers));
    this.#finish();
    this.#client.exchangeDone(this);
  }

  onUpstreamError(code: ErrorCode, headReceived: boolean, stale: boolean): void {
    this.#conn = null;
    if (this.clientGone || this.#phase === Phase.Done) return;
    if (stale && !headReceived && !this.#staleRetried && !this.#bodyLost() && isIdempotent(this.method)) {
      // A reused keep-alive connection the backend had just closed: the same
      // attempt goes again on a new connection to the same backend.
      this.#staleRetried = true;
      this.#rewindBody();
      this.#waitingForConnection = true;
      this.#engine.transport.acquire(this.upstream!, this, true);
      return;
    }
    this.#attemptFailed(code, true);
  }

  /** Ends the accounting of the current attempt exactly once. */
  #closeAttempt(outcome: Outcome): Upstream {
    this.#dropUpload();
    return closeAttempt(this.#host, this, outcome);
  }

  /** A transport failure of the current attempt (the undici engine's onError). */
  #attemptFailed(code: ErrorCode, requestSent: boolean): void {
    const up = this.#closeAttempt('failure');
    const host = this.#host;
    host.attemptFailed(up, code);
    if (this.#responseStarted) {
      // Part of the response is already out: the client must see it cut short.
      this.#finish(code);
      this.#client.cut();
      return;
    }
    if (mayRetryAfter(host, this, this.method, code, requestSent, requestSent && this.#bodyLost())) {
      const next = moveOn(host, this, up, code);
      if (next !== undefined) {
        if (requestSent) this.#rewindBody();
        this.#send(next);
        return;
      }
    }
    this.#fail(code);
  }

  /** A retry after the body went out: the next attempt sends the kept copy. */
  #rewindBody(): void {
    if (this.#replay !== null && this.#replay.length > 0) {
      this.#bodyParts = this.#replay.slice();
      this.#bodyBuffered = this.#replayBytes;
    }
  }

  /** `--retry-on-status`: when policy, another backend and the budget allow, drops this answer and its connection and sends the request on. */
  #statusRetry(up: Upstream, status: number): boolean {
    const host = this.#host;
    const conn = this.#conn;
    if (conn === null) return false;
    const next = statusRetryTarget(host, this, up, this.method, this.#bodyLost());
    if (next === undefined) return false;
    this.#conn = null;
    conn.abort();
    this.#closeAttempt('failure');
    moveOn(host, this, up, `status-${status}`, next);
    this.#rewindBody();
    this.#send(next);
    return true;
  }

  // --- client side ------------------------------------------------------------

  /** The client connection closed. */
  clientClosed(): void {
    if (this.clientGone || this.#phase === Phase.Done) return;
    this.clientGone = true;
    if (this.#phase === Phase.New) {
      this.#phase = Phase.Done;
      this.#releaseBody();
      return;
    }
    if (this.#phase === Phase.Queued) {
      this.#phase = Phase.Done;
      this.#releaseBody();
      this.#leaveQueue();
      return;
    }
    this.#cancelAttempt();
    this.#finish('client closed');
  }

  /** Ends the current attempt as cancelled and closes its backend connection: nothing counts against the backend. */
  #cancelAttempt(): void {
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) conn.abort();
    this.#waitingForConnection = false;
    if (this.attemptOpen) this.#closeAttempt('cancelled');
  }

  /** Gives a place in the admission queue back. */
  #leaveQueue(): void {
    this.queue.leave();
  }

  #fail(code: ErrorCode): void {
    this.#host.gate.countError(code);
    this.#writeError(code, code === 'SWY_NO_BACKEND' ? 1 : undefined);
    this.#finish(code);
    this.#client.exchangeDone(this);
  }

  #writeError(code: ErrorCode, retryAfter: number | undefined, headers?: readonly string[]): void {
    this.status = ERROR_CATALOGUE[code].status;
    if (this.clientGone) return;
    // After an error with part of the body unread, the connection cannot be trusted to be at a request boundary.
    if (this.#host.shuttingDown || !this.#requestEnded) this.closeAfter = true;
    const hsts = this.secure ? this.#host.settings.hsts : undefined;
    this.#client.sendError(this, code, retryAfter, hsts === undefined ? headers : [...(headers ?? []), 'strict-transport-security', hsts]);
  }

  #releaseBody(): void {
    if (this.#reserved > 0) {
      this.#engine.bodyBudget.release(this.#reserved);
      this.#reserved = 0;
    }
    this.#bodyParts = null;
    this.#replay = null;
  }

  #finish(error?: string): void {
    if (this.#phase === Phase.Done) return;
    this.#phase = Phase.Done;
    this.#dropUpload();
    this.#releaseBody();
    const host = this.#host;
    logRequest(host, this, this.method, this.clientGone ? 499 : this.status, this.upstream, error);
    host.gate.requestDone();
  }
}
