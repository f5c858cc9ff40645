import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { classifyUpstreamError, type ErrorCode } from '../../common/errors.js';
import type { Outcome } from '../resilience/outcome.js';
import type { PickContext } from '../strategies/strategy.js';
import type { Upstream } from '../upstream.js';
import { logRequest } from './access-log.js';
import { closeAttempt } from './attempt-accounting.js';
import { unwatchClientSend, watchClientSend } from './client-send-watch.js';
import { sendError } from './error-response.js';
import type { ForwardHost, Forwarder, IncomingCall, PoolOptions } from './forwarder.js';
import type { BodyEvents, IncomingBody } from './incoming-body.js';
import { clientAddress } from './request-policy.js';
import { filterResponseHeaders, filterTrailers } from './response-policy.js';
import { deadlineLeft, headWaitMs } from './retry-policy.js';
import { firstPick, mayRetryAfter, moveOn, statusRetryTarget } from './attempt-loop.js';
import { UndiciPools } from './undici-pools.js';
import { UploadGate } from './upload-gate.js';

const kExchange = Symbol('switchyard.exchange');

/** A backend that took too long: no response head in time after a streamed body, or a body it would not take. */
class UpstreamTimeout extends Error {
  readonly code = 'UND_ERR_HEADERS_TIMEOUT';
}

/**
 * The deadline passed while the request waited in the pool's queue behind
 * busy connections (--backend-connections all open and in use): a 504 to the
 * client all the same, but the backend was never asked, so its passive health,
 * outlier detection and breaker hear nothing of it.
 */
class PoolWaitTimeout extends UpstreamTimeout {}

/** undici refused the request itself, before any byte left: never the backend's fault. */
const LOCAL_ERRORS = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
]);

/** Aborts an attempt whose status is to be retried elsewhere (`--retry-on-status`). */
class StatusRetry extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`retrying a ${status} response`);
    this.status = status;
  }
}
type TaggedResponse = ServerResponse & { [kExchange]?: Exchange };

/** Interim (1xx) responses allowed before the final one. */
const MAX_INTERIM = 16;

/**
 * The default engine: one undici Pool per backend, driven through
 * `dispatch()` with this file's handler, so a request costs one Exchange
 * object and no promises or per-request closures. Response bytes are written
 * as they arrive with backpressure (a full client socket pauses the upstream).
 */
export class UndiciForwarder implements Forwarder {
  readonly name = 'undici';
  readonly #host: ForwardHost;
  readonly retryOnStatus: ReadonlySet<number> | null;
  /** Streamed uploads may hold half of a backend's connections. */
  readonly uploads: UploadGate;
  readonly pools: UndiciPools;
  readonly options: PoolOptions;

  constructor(host: ForwardHost, options: PoolOptions) {
    this.#host = host;
    this.options = options;
    this.pools = new UndiciPools(options);
    const statuses = host.settings.retryOnStatus ?? [];
    this.retryOnStatus = statuses.length ? new Set(statuses) : null;
    this.uploads = new UploadGate(Math.floor(options.connections / 2));
  }

  /** Requests come from http.Server's 'request' event: nothing to take over. */
  attach(_server: Server): void {}

  handle(req: IncomingMessage, res: ServerResponse, call: IncomingCall): void {
    new Exchange(this.#host, this, req, res, call).start();
  }

  forget(upstream: Upstream): void {
    this.pools.forget(upstream);
  }

  /** Client connections belong to http.Server, which closes them. */
  closeIdleConnections(): void {}

  closeAllConnections(): void {}

  close(): Promise<void> {
    return this.pools.close();
  }

  destroy(): Promise<void> {
    return this.pools.destroy();
  }
}

function onResponseClose(this: TaggedResponse): void {
  this[kExchange]?.clientClosed();
}

function onResponseDrain(this: TaggedResponse): void {
  this[kExchange]?.resumeUpstream();
}

function onHeadDeadline(exchange: Exchange): void {
  exchange.headDeadlinePassed();
}

/** One client request through its attempts. Also the undici dispatch handler and the strategy's PickContext. */
class Exchange implements Dispatcher.DispatchHandler, PickContext, BodyEvents {
  readonly #host: ForwardHost;
  readonly #engine: UndiciForwarder;
  readonly req: IncomingMessage;
  readonly res: TaggedResponse;
  readonly headers: string[];
  readonly path: string;
  readonly #body: IncomingBody;
  requestId: string;
  /** The body to send: the buffered bytes, the stream, or none. */
  readonly #payload: Buffer | Readable | null;
  /** The body cannot be sent again (it streamed). */
  readonly #bodyLost: boolean;
  #headTimer: NodeJS.Timeout | null = null;
  #clientFault = false;
  /** The backend whose upload slot this request holds, while its streamed body is being sent. */
  #uploadSlot: string | null = null;
  #cancelUploadWait: (() => void) | null = null;
  readonly clientIp: string;
  readonly startedAt: number;
  upstream: Upstream | undefined;
  attempts = 0;
  attemptStartedAt = 0;
  /** Milliseconds from sending the attempt to its response head; -1 until it arrives. */
  headMs = -1;
  status = 0;
  tried: Upstream[] | undefined;
  triedCodes: { id: string; code: string }[] | undefined;
  abortUpstream: ((err?: Error) => void) | null = null;
  resume: (() => void) | null = null;
  /** The backend a `--retry-on-status` retry goes to. */
  statusRetryTo: Upstream | undefined;
  /** X-LB-Decision for the current attempt, when explanations are on for this request. */
  decision: string | null = null;
  drainHooked = false;
  #interim = 0;
  #pendingHead: { status: number; text: string; headers: string[] } | null = null;
  attemptOpen = false;
  clientGone = false;
  done = false;

  constructor(host: ForwardHost, engine: UndiciForwarder, req: IncomingMessage, res: ServerResponse, call: IncomingCall) {
    this.#host = host;
    this.#engine = engine;
    this.req = req;
    this.res = res;
    this.clientIp = clientAddress(req.socket.remoteAddress);
    this.startedAt = performance.now();
    const v = call.verdict;
    this.requestId = v.requestId;
    this.path = v.path;
    const headers = v.headers;
    if (v.host !== '') headers.unshift('host', v.host);
    const body = call.body;
    this.#body = body;
    body.events = this;
    if (body.buffer !== null) {
      this.#payload = body.buffer;
      this.#bodyLost = body.buffer.length > (host.settings.retryBodyLimit ?? 0);
    } else if (body.stream !== null) {
      this.#payload = body.stream;
      this.#bodyLost = true;
      // A streamed body keeps the client's length framing when it had one; undici chunks it otherwise.
      if (body.declaredLength >= 0) headers.push('content-length', String(body.declaredLength));
    } else {
      this.#payload = null;
      this.#bodyLost = false;
    }
    this.headers = headers;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  }

  start(): void {
    this.res[kExchange] = this;
    this.res.on('close', onResponseClose);
    const up = firstPick(this.#host, this);
    if (up === undefined) {
      this.fail('SWY_NO_BACKEND');
      return;
    }
    this.send(up);
  }

  send(up: Upstream): void {
    this.upstream = up;
    this.attempts++;
    this.abortUpstream = null;
    this.attemptOpen = true;
    this.headMs = -1;
    this.status = 0;
    this.attemptStartedAt = performance.now();
    up.inFlight++;
    up.requests++;
    if (this.#body.streaming && !this.#body.complete) {
      // A body still arriving holds its connection as long as its client takes: only half of them may.
      this.#cancelUploadWait = this.#engine.uploads.acquire(up.id, () => {
        this.#cancelUploadWait = null;
        this.#uploadSlot = up.id;
        this.#dispatch(up);
      });
      return;
    }
    this.#dispatch(up);
  }

  #dispatch(up: Upstream): void {
    const streaming = this.#body.streaming;
    // A streamed body waits for its client: the head wait starts once it is all sent (onRequestSent).
    // Otherwise the overall deadline (--request-timeout) is kept by a timer of ours: undici's head
    // timeout runs on its coarse clock (a tick every half second, whatever the delay), so a retry
    // left 400 ms could wait 900 and outlive the deadline. undici's own timeout is left the attempt's
    // limit (--upstream-timeout) only when that limit comes first.
    const left = streaming ? Infinity : this.#remainingMs();
    if (left !== Infinity) this.#headTimer = setTimeout(onHeadDeadline, Math.max(1, Math.ceil(left)), this);
    const limit = this.#engine.options.headersTimeoutMs;
    this.#engine.pools.get(up).dispatch(
      {
        path: this.path,
        method: this.req.method as Dispatcher.HttpMethod,
        headers: this.headers,
        body: this.#payload,
        headersTimeout: streaming || left <= limit ? 0 : limit,
      },
      this,
    );
  }

  /** The overall deadline passed before the response head: the attempt ends as a timeout (504, never retried). */
  headDeadlinePassed(): void {
    this.#headTimer = null;
    if (this.done) return;
    const why = 'no response head before the request deadline';
    if (this.abortUpstream !== null) this.abortUpstream(new UpstreamTimeout(why));
    // Still waiting for a connection: answered now; onConnect aborts the request when the pool gets to it.
    else this.onError(this.#queuedBehindBusyPool() ? new PoolWaitTimeout(why) : new UpstreamTimeout(why));
  }

  /**
   * Whether a request not yet given a connection waited only for one of the
   * pool's busy ones: every connection the pool may open is up. Below that,
   * undici was opening one for it, and a backend slow to accept is its fault.
   */
  #queuedBehindBusyPool(): boolean {
    return this.#engine.pools.connected(this.upstream!) >= this.#engine.options.connections;
  }

  #releaseUpload(): void {
    this.#cancelUploadWait?.();
    this.#cancelUploadWait = null;
    if (this.#uploadSlot !== null) {
      this.#engine.uploads.release(this.#uploadSlot);
      this.#uploadSlot = null;
    }
  }

  /** undici wrote the whole request: a streamed body's wait for the response head starts now. */
  onRequestSent(): void {
    this.#releaseUpload();
    if (!this.#body.streaming || this.#headTimer !== null || this.status !== 0) return;
    const wait = headWaitMs(this.#engine.options.headersTimeoutMs, this.startedAt, this.#host.settings.requestTimeoutMs);
    this.#headTimer = setTimeout(() => this.abortUpstream?.(new UpstreamTimeout('no response head in time')), wait);
  }

  #clearHeadTimer(): void {
    if (this.#headTimer !== null) {
      clearTimeout(this.#headTimer);
      this.#headTimer = null;
    }
  }

  // --- BodyEvents -------------------------------------------------------------

  /** The body was already ready when the engine took the request. */
  bodyReady(): void {}

  /** The client broke its own request: the attempt is cancelled, the client answered (or cut), nothing blamed. */
  clientFault(code: ErrorCode): void {
    if (this.done) return;
    this.#clientFault = true;
    this.#clearHeadTimer();
    if (this.attemptOpen) this.closeAttempt('cancelled');
    const abort = this.abortUpstream;
    this.abortUpstream = null;
    abort?.();
    if (this.res.headersSent) this.res.destroy();
    else {
      this.#host.gate.countError(code);
      sendError(this.res, code, this.requestId, true);
    }
    this.finish(code);
  }

  /** The backend would not take the body: its fault, as a timeout (or, still waiting for an upload slot, a full queue's). */
  sendTimedOut(): void {
    if (this.#cancelUploadWait !== null) {
      this.#releaseUpload();
      if (this.attemptOpen) this.closeAttempt('cancelled');
      this.fail('SWY_QUEUE_TIMEOUT');
      return;
    }
    this.abortUpstream?.(new UpstreamTimeout('the backend did not take the request body'));
  }

  #remainingMs(): number {
    return deadlineLeft(this.startedAt, this.#host.settings.requestTimeoutMs);
  }

  /** Ends the accounting of the current attempt exactly once. */
  closeAttempt(outcome: Outcome): Upstream {
    return closeAttempt(this.#host, this, outcome);
  }

  finish(error?: string): void {
    if (this.done) return;
    this.done = true;
    this.#clearHeadTimer();
    this.#releaseUpload();
    this.#body.close();
    unwatchClientSend(this.res);
    this.res[kExchange] = undefined;
    const host = this.#host;
    logRequest(host, this, this.req.method ?? '', this.clientGone ? 499 : this.res.statusCode, this.upstream, error);
    host.gate.requestDone();
  }

  // --- undici handler -------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    if (this.clientGone || this.done) {
      abort();
      return;
    }
    this.abortUpstream = abort;
    this.#host.connectionWait.record(performance.now() - this.attemptStartedAt);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.clientGone || this.#clientFault) return false;
    // undici reports interim responses here too: pass Early Hints on (a few), drop other 1xx
    // (100 was answered to the client already), and wait for the final head.
    if (statusCode < 200) {
      if (++this.#interim > MAX_INTERIM) {
        this.abortUpstream?.(Object.assign(new Error('too many interim responses'), { code: 'UND_ERR_INFO' }));
        return false;
      }
      if (statusCode === 103 && !this.res.headersSent && this.#interim <= 2) forwardEarlyHints(this.res, rawHeaders);
      return true;
    }
    this.#clearHeadTimer();
    const up = this.upstream!;
    this.status = statusCode;
    this.headMs = performance.now() - this.attemptStartedAt;
    const retryOn = this.#engine.retryOnStatus;
    if (retryOn !== null && retryOn.has(statusCode) && this.#statusRetry(up, statusCode)) return false;
    up.countStatus(statusCode);
    this.resume = resume;
    const raw = new Array<string>(rawHeaders.length);
    for (let i = 0; i < rawHeaders.length; i++) raw[i] = rawHeaders[i]!.toString('latin1');
    const out: string[] = [];
    filterResponseHeaders(raw, statusCode === 204, out, { hasLength: false, hasDate: false });
    const host = this.#host;
    if (host.settings.backendHeader) out.push('x-backend', up.id);
    out.push('x-request-id', this.requestId);
    const cookie = host.stickyCookie(this, up);
    if (cookie !== undefined) out.push('set-cookie', cookie);
    if (this.decision !== null) out.push('x-lb-decision', this.decision);
    if (this.#host.shuttingDown) out.push('connection', 'close');
    // An answer before the whole request body came: that body is never read, so the connection closes.
    if (!this.#body.complete) out.push('connection', 'close');
    if (statusCode === 204 || statusCode === 304 || this.req.method === 'HEAD') {
      // No body follows: the head goes out once undici saw the response end cleanly, so a
      // backend that breaks framing here still gets the client a clean 502.
      this.#pendingHead = { status: statusCode, text: statusText, headers: out };
      return true;
    }
    this.#writeHead(statusCode, statusText, out);
    return true;
  }

  #writeHead(status: number, text: string, headers: string[]): void {
    if (text) this.res.writeHead(status, text, headers);
    else this.res.writeHead(status, headers);
    watchClientSend(this.res, this.#host.limits.clientSendTimeoutMs);
  }

  onData(chunk: Buffer): boolean {
    if (this.clientGone) return false;
    if (this.res.write(chunk)) return true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', onResponseDrain);
    }
    return false;
  }

  resumeUpstream(): void {
    const r = this.resume;
    if (r !== null && !this.clientGone) r();
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    this.closeAttempt(this.status >= 500 ? 'failure' : 'success');
    const head = this.#pendingHead;
    if (head !== null && !this.clientGone) {
      this.#pendingHead = null;
      this.#writeHead(head.status, head.text, head.headers);
    }
    if (!this.clientGone && !this.res.writableEnded) {
      if (trailers !== null && trailers.length > 0 && this.res.chunkedEncoding) {
        const kept = filterTrailers(trailers.map((t) => String(t)));
        if (kept !== null) {
          const t: [string, string][] = [];
          for (let i = 0; i < kept.length; i += 2) t.push([kept[i]!, kept[i + 1]!]);
          this.res.addTrailers(t);
        }
      }
      this.res.end();
    }
    this.finish();
  }

  /**
   * `--retry-on-status`: when policy, another backend and the budget allow,
   * drops this answer (and its connection) and lets onError send the request on.
   */
  #statusRetry(up: Upstream, status: number): boolean {
    if (this.abortUpstream === null) return false;
    const next = statusRetryTarget(this.#host, this, up, this.req.method ?? 'GET', this.#bodyLost);
    if (next === undefined) return false;
    this.statusRetryTo = next;
    this.abortUpstream(new StatusRetry(status));
    return true;
  }

  onError(err: Error): void {
    this.#clearHeadTimer();
    this.#releaseUpload();
    this.#pendingHead = null;
    if (this.#clientFault || this.done) return;
    const sock = this.res.socket;
    const gone = this.clientGone || sock === null || sock.destroyed;
    const statusRetry = err instanceof StatusRetry;
    // Found by undici before any byte left (a request it will not send): not the backend's doing.
    const local = !statusRetry && LOCAL_ERRORS.has(String((err as { code?: unknown }).code));
    const queued = err instanceof PoolWaitTimeout;
    const up = this.closeAttempt((gone && !statusRetry) || local || queued ? 'cancelled' : 'failure');
    if (gone) {
      this.clientGone = true;
      this.finish('client closed');
      return;
    }
    if (local) {
      this.fail('SWY_BAD_REQUEST');
      return;
    }
    const code: ErrorCode = statusRetry ? 'SWY_UPSTREAM_RESET' : classifyUpstreamError(err);
    const host = this.#host;
    if (!statusRetry && !queued) host.attemptFailed(up, code);
    if (this.res.headersSent) {
      // Part of the response is already out: the client must see it cut short.
      this.res.destroy(err);
      this.finish(code);
      return;
    }
    // A status retry already passed the policy, picked its backend and took its budget in onHeaders.
    if (statusRetry || mayRetryAfter(host, this, this.req.method ?? 'GET', code, this.abortUpstream !== null, this.#bodyLost)) {
      const next = moveOn(host, this, up, statusRetry ? `status-${(err as StatusRetry).status}` : code, statusRetry ? this.statusRetryTo : undefined);
      this.statusRetryTo = undefined;
      if (next !== undefined) {
        this.send(next);
        return;
      }
    }
    this.fail(code);
  }

  // --- client side ----------------------------------------------------------

  clientClosed(): void {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    if (this.#cancelUploadWait !== null) {
      // Still waiting for an upload slot: nothing was sent anywhere.
      this.#releaseUpload();
      if (this.attemptOpen) this.closeAttempt('cancelled');
      this.finish('client closed');
      return;
    }
    const abort = this.abortUpstream;
    if (abort !== null && this.attemptOpen) abort();
    // Not yet connected: onConnect aborts it when the pool gets to it.
  }

  fail(code: ErrorCode): void {
    const host = this.#host;
    host.gate.countError(code);
    if (this.decision !== null && !this.res.headersSent) this.res.setHeader('x-lb-decision', this.decision);
    // With part of the request body unread, the connection is not at a request boundary: close it.
    sendError(this.res, code, this.requestId, host.shuttingDown || !this.#body.complete, code === 'SWY_NO_BACKEND' ? 1 : undefined);
    this.finish(code);
  }
}

/** Sends the Link headers of a backend's 103 Early Hints to the client. */
function forwardEarlyHints(res: ServerResponse, rawHeaders: Buffer[]): void {
  const link: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length === 4 && rawHeaders[i]!.toString('latin1').toLowerCase() === 'link') link.push(rawHeaders[i + 1]!.toString('latin1'));
  }
  if (link.length > 0) res.writeEarlyHints({ link });
}
