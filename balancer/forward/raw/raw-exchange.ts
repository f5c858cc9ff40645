import type { Socket } from 'node:net';
import { ERROR_CATALOGUE, type ErrorCode } from '../../../common/errors.js';
import type { QueueTicket } from '../../resilience/admission-control.js';
import type { Outcome } from '../../resilience/outcome.js';
import type { PickContext } from '../../strategies/strategy.js';
import type { Upstream } from '../../upstream.js';
import { deadlineLeft, headWaitMs, isIdempotent, mayRetry } from '../retry-policy.js';
import { HEAD_CONTINUE, HEAD_SKIP_BODY } from './http-parser.js';
import { errorResponseText } from './raw-error-response.js';
import type { AdmissionRequest, RawHost } from './raw-host.js';
import { buildRequestHead, type RawRequestHead } from './request-head.js';
import { Framing, responseHeadEnd, responseHeadStart } from './response-head.js';
import type { UpstreamConnection, ResponseSink } from './upstream-connection.js';
import type { PoolWaiter, UpstreamPool } from './upstream-pool.js';

/** The client connection as an exchange sees it. */
export interface ClientSide {
  readonly socket: Socket;
  readonly clientIp: string;
  /** The exchange's response is complete (or it gave up): the connection moves on. */
  exchangeDone(x: RawExchange): void;
  /** Stop / go on reading the client (its body waits for the backend). */
  pauseForBody(): void;
  resumeForBody(): void;
  /** Cut the connection (a response that cannot be completed). */
  cut(): void;
}

/** What an exchange needs from its engine. */
export interface EngineSide {
  readonly host: RawHost;
  readonly retryOnStatus: ReadonlySet<number> | null;
  /** Seconds for the Keep-Alive response header; 0 = none. */
  readonly keepAliveSeconds: number;
  poolFor(up: Upstream): UpstreamPool;
}

/** How the request body is framed by the client. */
export const enum BodyKind {
  None = 0,
  Length = 1,
  Chunked = 2,
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';
/** Body bytes held while no backend connection is attached, before the client is paused. */
const BODY_BUFFER_LIMIT = 64 * 1024;

const enum Phase {
  New,
  Queued,
  Admitted,
  Done,
}

/**
 * One client request parsed by the raw engine, through its attempts: the raw
 * counterpart of the undici engine's Exchange, with the same accounting,
 * retry rules, headers and error answers. It is also the strategy's
 * PickContext, the admission queue's waiter, the pool's waiter and the
 * response sink of the backend connection it uses.
 */
export class RawExchange implements PickContext, AdmissionRequest, PoolWaiter, ResponseSink {
  readonly #client: ClientSide;
  readonly #engine: EngineSide;
  readonly #host: RawHost;
  readonly method: string;
  readonly path: string;
  readonly rawHeaders: string[];
  readonly http10: boolean;
  /** The client asked to close after this response (Connection: close, HTTP/1.0 without keep-alive). */
  readonly clientClose: boolean;
  readonly expectContinue: boolean;
  readonly bodyKind: BodyKind;
  readonly startedAt: number;
  #phase = Phase.New;
  #ticket: QueueTicket | null = null;
  #head: RawRequestHead | null = null;
  requestId = '';
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
  #conn: UpstreamConnection | null = null;
  #waitingForConnection = false;
  #staleRetried = false;
  // request body
  #bodyParts: Buffer[] | null = null;
  #bodyBuffered = 0;
  #requestEnded = false;
  /** Every body chunk so far, while the body fits --retry-body-limit (null: not kept). */
  #replay: Buffer[] | null = null;
  #replayBytes = 0;
  // response
  #responseStarted = false;
  #framing = Framing.AsIs;
  #upstreamPaused = false;
  /** The client connection closes after this response. */
  closeAfter: boolean;

  constructor(client: ClientSide, engine: EngineSide, method: string, path: string, rawHeaders: string[], http10: boolean, keepAlive: boolean, expectContinue: boolean, bodyKind: BodyKind) {
    this.#client = client;
    this.#engine = engine;
    this.#host = engine.host;
    this.method = method;
    this.path = path;
    this.rawHeaders = rawHeaders;
    this.http10 = http10;
    this.clientClose = !keepAlive;
    this.closeAfter = !keepAlive;
    this.expectContinue = expectContinue;
    this.bodyKind = bodyKind;
    this.#requestEnded = bodyKind === BodyKind.None;
    this.startedAt = performance.now();
    if (bodyKind !== BodyKind.None && (engine.host.settings.retryBodyLimit ?? 0) > 0) this.#replay = [];
  }

  #remainingMs(): number {
    return deadlineLeft(this.startedAt, this.#host.settings.requestTimeoutMs);
  }

  /**
   * True when a retry would lose nothing of the request: it has no body, or
   * its whole body was received and kept for replay.
   */
  #bodyLost(): boolean {
    return this.bodyKind !== BodyKind.None && !(this.#requestEnded && this.#replay !== null);
  }

  get clientIp(): string {
    return this.#client.clientIp;
  }

  get clientSocket(): Socket {
    return this.#client.socket;
  }

  get done(): boolean {
    return this.#phase === Phase.Done;
  }

  get wantsConnection(): boolean {
    return this.#waitingForConnection && !this.clientGone && this.#phase === Phase.Admitted;
  }

  header(name: string): string | undefined {
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) return raw[i + 1];
    return undefined;
  }

  /** First in its connection's line: answer 100-continue as Node does, then ask for admission. */
  activate(): void {
    if (this.expectContinue && !this.http10) this.#client.socket.write(CONTINUE, 'latin1');
    this.#host.admit(this);
  }

  // --- admission --------------------------------------------------------------

  admitted(): void {
    this.#phase = Phase.Admitted;
    this.#start();
  }

  queued(ticket: QueueTicket): void {
    this.#phase = Phase.Queued;
    this.#ticket = ticket;
  }

  granted(): void {
    if (this.#phase !== Phase.Queued) return;
    this.#ticket = null;
    this.admitted();
  }

  timedOut(): void {
    if (this.#phase !== Phase.Queued) return;
    this.#ticket = null;
    this.#host.queuedTimedOut(this);
  }

  refused(code: ErrorCode, requestId: string, retryAfterSeconds: number): void {
    this.#phase = Phase.Done;
    this.requestId = requestId;
    this.#writeError(code, retryAfterSeconds);
    this.#client.exchangeDone(this);
  }

  // --- attempts ---------------------------------------------------------------

  #start(): void {
    const host = this.#host;
    const head = buildRequestHead(this.method, this.path, this.rawHeaders, this.clientIp, host.settings.trustForwarded, this.bodyKind === BodyKind.Chunked);
    this.requestId = head.incomingRequestId ?? host.nextRequestId();
    head.text += `x-request-id: ${this.requestId}\r\n`;
    this.#head = head;
    if (host.wantsExplanationFor(this)) this.decision = '';
    const up = host.pick(this);
    if (this.decision !== null) this.decision = host.explain(this, up, 1, undefined, []);
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
    up.inFlight++;
    up.requests++;
    this.#waitingForConnection = true;
    this.#engine.poolFor(up).acquire(this, false);
  }

  onConnection(conn: UpstreamConnection): void {
    this.#waitingForConnection = false;
    this.#conn = conn;
    const pool = conn.pool;
    conn.attach(this, headWaitMs(pool.options.headersTimeoutMs, this.startedAt, this.#host.settings.requestTimeoutMs));
    const head = this.#head!;
    const text = head.hostMissing ? `${head.text}host: ${pool.hostHeader}\r\n\r\n` : `${head.text}\r\n`;
    const s = conn.socket;
    const parts = this.#bodyParts;
    if (parts === null && (!this.#requestEnded || this.bodyKind !== BodyKind.Chunked)) {
      // No body, or its bytes still to come: one write, no cork (the common GET).
      s.write(text, 'latin1');
      if (this.#requestEnded) this.#endBody(conn);
      return;
    }
    s.cork();
    s.write(text, 'latin1');
    if (parts !== null) {
      this.#bodyParts = null;
      this.#bodyBuffered = 0;
      for (const p of parts) this.#writeBody(s, p);
      this.#client.resumeForBody();
    }
    if (this.#requestEnded) this.#endBody(conn);
    s.uncork();
  }

  onConnectFailed(code: ErrorCode): void {
    this.#waitingForConnection = false;
    this.#attemptFailed(code, false);
  }

  // --- request body (from the client connection's parser) ---------------------

  onRequestBody(chunk: Buffer): void {
    if (this.#phase === Phase.Done || this.clientGone) return;
    const replay = this.#replay;
    if (replay !== null) {
      // llhttp hands over a copy of the bytes: keeping the reference is enough.
      this.#replayBytes += chunk.length;
      if (this.#replayBytes <= (this.#host.settings.retryBodyLimit ?? 0)) replay.push(chunk);
      else this.#replay = null;
    }
    const conn = this.#conn;
    if (conn !== null) {
      if (!this.#writeBody(conn.socket, chunk)) this.#client.pauseForBody();
      return;
    }
    (this.#bodyParts ??= []).push(chunk);
    this.#bodyBuffered += chunk.length;
    if (this.#bodyBuffered > BODY_BUFFER_LIMIT) this.#client.pauseForBody();
  }

  onRequestEnd(): void {
    this.#requestEnded = true;
    if (this.#phase === Phase.Done || this.clientGone) return;
    const conn = this.#conn;
    if (conn !== null) this.#endBody(conn);
  }

  #writeBody(s: Socket, chunk: Buffer): boolean {
    if (this.bodyKind !== BodyKind.Chunked) return s.write(chunk);
    s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    s.write(chunk);
    return s.write(CRLF, 'latin1');
  }

  #endBody(conn: UpstreamConnection): void {
    if (this.bodyKind === BodyKind.Chunked) conn.socket.write(LAST_CHUNK, 'latin1');
    conn.requestWritten = true;
  }

  onUpstreamDrain(): void {
    this.#client.resumeForBody();
  }

  // --- response (from the backend connection's parser) ------------------------

  onResponseHead(status: number, statusText: string, headers: string[]): number {
    const up = this.upstream!;
    this.status = status;
    this.headMs = performance.now() - this.attemptStartedAt;
    const retry = this.#engine.retryOnStatus;
    if (retry !== null && retry.has(status) && this.#statusRetry(up, status)) return HEAD_CONTINUE;
    up.countStatus(status);
    const host = this.#host;
    const shape = { hasLength: false, hasDate: false };
    let text = responseHeadStart(status, statusText, headers, shape);
    if (host.settings.backendHeader) text += `x-backend: ${up.id}\r\n`;
    text += `x-request-id: ${this.requestId}\r\n`;
    const cookie = host.stickyCookie(this, up);
    if (cookie !== undefined) text += `set-cookie: ${cookie}\r\n`;
    if (this.decision !== null) text += `x-lb-decision: ${this.decision}\r\n`;
    const noBody = this.method === 'HEAD' || status === 204 || status === 304;
    this.#framing = noBody || shape.hasLength ? Framing.AsIs : this.http10 ? Framing.UntilClose : Framing.Chunked;
    if (host.shuttingDown || this.#framing === Framing.UntilClose) this.closeAfter = true;
    this.#responseStarted = true;
    this.#client.socket.write(responseHeadEnd(text, shape.hasDate, this.#framing, !this.closeAfter, this.#engine.keepAliveSeconds), 'latin1');
    return this.method === 'HEAD' ? HEAD_SKIP_BODY : HEAD_CONTINUE;
  }

  onResponseBody(chunk: Buffer): void {
    if (this.clientGone) return;
    const s = this.#client.socket;
    let ok: boolean;
    if (this.#framing === Framing.Chunked) {
      s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      s.write(chunk);
      ok = s.write(CRLF, 'latin1');
    } else ok = s.write(chunk);
    if (!ok && !this.#upstreamPaused && this.#conn !== null) {
      this.#upstreamPaused = true;
      this.#conn.socket.pause();
    }
  }

  /** The client connection drained: let the backend send again. */
  onClientDrain(): void {
    if (!this.#upstreamPaused) return;
    this.#upstreamPaused = false;
    this.#conn?.socket.resume();
  }

  onResponseComplete(trailers: string[] | null): void {
    this.#conn = null;
    this.#upstreamPaused = false;
    this.#closeAttempt(this.status >= 500 ? 'failure' : 'success');
    if (!this.clientGone && this.#framing === Framing.Chunked) {
      if (trailers === null) this.#client.socket.write(LAST_CHUNK, 'latin1');
      else {
        let t = '0\r\n';
        for (let i = 0; i < trailers.length; i += 2) t += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
        this.#client.socket.write(`${t}\r\n`, 'latin1');
      }
    }
    this.#finish();
    this.#client.exchangeDone(this);
  }

  onUpstreamError(code: ErrorCode, headReceived: boolean, stale: boolean): void {
    this.#conn = null;
    this.#upstreamPaused = false;
    if (this.clientGone || this.#phase === Phase.Done) return;
    if (stale && !headReceived && !this.#staleRetried && !this.#bodyLost() && isIdempotent(this.method)) {
      // A reused keep-alive connection the backend had just closed: the same
      // attempt goes again on a new connection to the same backend.
      this.#staleRetried = true;
      this.#rewindBody();
      this.#waitingForConnection = true;
      this.#engine.poolFor(this.upstream!).acquire(this, true);
      return;
    }
    this.#attemptFailed(code, true);
  }

  /** Ends the accounting of the current attempt exactly once. */
  #closeAttempt(outcome: Outcome): Upstream {
    const up = this.upstream!;
    if (this.attemptOpen) {
      this.attemptOpen = false;
      up.inFlight--;
      const ms = performance.now() - this.attemptStartedAt;
      up.recordAttempt(ms * 1000, outcome === 'failure');
      this.#host.attemptEnded(up, outcome, this.headMs >= 0 ? this.headMs : ms);
    }
    return up;
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
    if (this.#mayRetry(code, requestSent)) {
      (this.tried ??= []).push(up);
      const next = host.pick(this, this.tried);
      if (this.decision !== null) {
        (this.triedCodes ??= []).push({ id: up.id, code });
        this.decision = host.explain(this, next, this.attempts + 1, this.tried, this.triedCodes);
      }
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

  #mayRetry(code: ErrorCode, requestSent: boolean): boolean {
    return (
      mayRetry({ code, requestSent, method: this.method, hasBody: requestSent && this.#bodyLost(), attempts: this.attempts, maxRetries: this.#host.settings.maxRetries, remainingMs: this.#remainingMs() }) &&
      this.#host.acquireRetry()
    );
  }

  /** `--retry-on-status`: when policy, another backend and the budget allow, drops this answer and its connection and sends the request on. */
  #statusRetry(up: Upstream, status: number): boolean {
    const host = this.#host;
    const policy = { code: 'SWY_UPSTREAM_RESET' as const, requestSent: true, method: this.method, hasBody: this.#bodyLost(), attempts: this.attempts, maxRetries: host.settings.maxRetries, remainingMs: this.#remainingMs() };
    const conn = this.#conn;
    if (!mayRetry(policy) || conn === null) return false;
    const exclude = this.tried ? [...this.tried, up] : [up];
    const next = host.pick(this, exclude);
    if (next === undefined || !host.acquireRetry()) return false;
    this.#conn = null;
    conn.destroy();
    this.#closeAttempt('failure');
    (this.tried ??= []).push(up);
    if (this.decision !== null) {
      (this.triedCodes ??= []).push({ id: up.id, code: `status-${status}` });
      this.decision = host.explain(this, next, this.attempts + 1, this.tried, this.triedCodes);
    }
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
      return;
    }
    if (this.#phase === Phase.Queued) {
      this.#phase = Phase.Done;
      this.#ticket?.cancel();
      this.#ticket = null;
      this.#host.queuedLeft();
      return;
    }
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) conn.destroy();
    this.#waitingForConnection = false;
    if (this.attemptOpen) this.#closeAttempt('cancelled');
    this.#finish('client closed');
  }

  #fail(code: ErrorCode): void {
    this.#host.countError(code);
    this.#writeError(code, code === 'SWY_NO_BACKEND' ? 1 : undefined);
    this.#finish(code);
    this.#client.exchangeDone(this);
  }

  #writeError(code: ErrorCode, retryAfter: number | undefined): void {
    this.status = ERROR_CATALOGUE[code].status;
    if (this.clientGone) return;
    if (this.#host.shuttingDown) this.closeAfter = true;
    this.#client.socket.write(errorResponseText(code, this.requestId, !this.closeAfter, this.#engine.keepAliveSeconds, retryAfter, this.decision), 'latin1');
  }

  #finish(error?: string): void {
    if (this.#phase === Phase.Done) return;
    this.#phase = Phase.Done;
    const host = this.#host;
    if (host.accessLog !== null && (host.accessLogSample >= 1 || Math.random() < host.accessLogSample)) {
      host.accessLog.info(
        {
          requestId: this.requestId,
          method: this.method,
          path: this.path,
          status: this.clientGone ? 499 : this.status,
          backend: this.upstream?.id,
          attempts: this.attempts,
          durationMs: Math.round((performance.now() - this.startedAt) * 100) / 100,
          clientIp: this.clientIp,
          ...(error ? { error } : {}),
        },
        'request',
      );
    }
    host.requestDone();
  }
}
