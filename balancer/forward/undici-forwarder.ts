import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { classifyUpstreamError, type ErrorCode } from '../../common/errors.js';
import type { Outcome } from '../resilience/outcome.js';
import type { PickContext } from '../strategies/strategy.js';
import type { Upstream } from '../upstream.js';
import { sendError } from './error-response.js';
import type { ForwardHost, Forwarder } from './forwarder.js';
import { clientAddress, rewriteRequestHeaders, rewriteResponseHeaders, type UpstreamRequestHead } from './request-headers.js';
import { deadlineLeft, headWaitMs, mayRetry } from './retry-policy.js';

const kExchange = Symbol('switchyard.exchange');

/** Aborts an attempt whose status is to be retried elsewhere (`--retry-on-status`). */
class StatusRetry extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`retrying a ${status} response`);
    this.status = status;
  }
}
type TaggedResponse = ServerResponse & { [kExchange]?: Exchange };

/**
 * The default engine: one undici Pool per backend, driven through
 * `dispatch()` with this file's handler, so a request costs one Exchange
 * object and no promises or per-request closures. Response bytes are written
 * as they arrive with backpressure (a full client socket pauses the upstream).
 */
export class UndiciForwarder implements Forwarder {
  readonly name = 'undici';
  readonly #host: ForwardHost;
  readonly #retryOnStatus: ReadonlySet<number> | null;

  constructor(host: ForwardHost) {
    this.#host = host;
    const statuses = host.settings.retryOnStatus ?? [];
    this.#retryOnStatus = statuses.length ? new Set(statuses) : null;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    new Exchange(this.#host, req, res, this.#retryOnStatus).start();
  }

  async close(): Promise<void> {}
}

function onResponseClose(this: TaggedResponse): void {
  this[kExchange]?.clientClosed();
}

function onResponseDrain(this: TaggedResponse): void {
  this[kExchange]?.resumeUpstream();
}

/** One client request through its attempts. Also the undici dispatch handler and the strategy's PickContext. */
class Exchange implements Dispatcher.DispatchHandler, PickContext {
  readonly #host: ForwardHost;
  readonly #retryOnStatus: ReadonlySet<number> | null;
  readonly req: IncomingMessage;
  readonly res: TaggedResponse;
  readonly head: UpstreamRequestHead = { headers: [], hasBody: false, incomingRequestId: undefined };
  readonly clientIp: string;
  readonly startedAt: number;
  requestId = '';
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
  attemptOpen = false;
  clientGone = false;
  done = false;

  constructor(host: ForwardHost, req: IncomingMessage, res: ServerResponse, retryOnStatus: ReadonlySet<number> | null) {
    this.#host = host;
    this.#retryOnStatus = retryOnStatus;
    this.req = req;
    this.res = res;
    this.clientIp = clientAddress(req.socket.remoteAddress);
    this.startedAt = performance.now();
  }

  get path(): string {
    return this.req.url ?? '/';
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  }

  start(): void {
    const host = this.#host;
    rewriteRequestHeaders(this.req.rawHeaders, this.head, this.clientIp, 'http', host.settings.trustForwarded);
    this.requestId = this.head.incomingRequestId ?? host.nextRequestId();
    this.head.headers.push('x-request-id', this.requestId);
    this.res[kExchange] = this;
    this.res.on('close', onResponseClose);
    if (host.wantsExplanation(this.req)) this.decision = '';
    const up = host.pick(this);
    if (this.decision !== null) this.decision = host.explain(this, up, 1, undefined, []);
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
    up.pool.dispatch(
      {
        path: this.req.url ?? '/',
        method: this.req.method as Dispatcher.HttpMethod,
        headers: this.head.headers,
        body: this.head.hasBody ? this.req : null,
        // The overall deadline (--request-timeout) shortens the wait for the head of a retry.
        headersTimeout: headWaitMs(up.headersTimeoutMs, this.startedAt, this.#host.settings.requestTimeoutMs),
      },
      this,
    );
  }

  #remainingMs(): number {
    return deadlineLeft(this.startedAt, this.#host.settings.requestTimeoutMs);
  }

  /** Ends the accounting of the current attempt exactly once. */
  closeAttempt(outcome: Outcome): Upstream {
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

  finish(error?: string): void {
    if (this.done) return;
    this.done = true;
    this.res[kExchange] = undefined;
    const host = this.#host;
    if (host.accessLog !== null && (host.accessLogSample >= 1 || Math.random() < host.accessLogSample)) {
      host.accessLog.info(
        {
          requestId: this.requestId,
          method: this.req.method ?? '',
          path: this.path,
          status: this.clientGone ? 499 : this.res.statusCode,
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

  // --- undici handler -------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    if (this.clientGone) {
      abort();
      return;
    }
    this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.clientGone) return false;
    // undici reports interim responses here too: pass Early Hints on, drop other 1xx (100 was
    // answered to the client already), and wait for the final head.
    if (statusCode < 200) {
      if (statusCode === 103 && !this.res.headersSent) forwardEarlyHints(this.res, rawHeaders);
      return true;
    }
    const up = this.upstream!;
    this.status = statusCode;
    this.headMs = performance.now() - this.attemptStartedAt;
    if (this.#retryOnStatus !== null && this.#retryOnStatus.has(statusCode) && this.#statusRetry(up, statusCode)) return false;
    up.countStatus(statusCode);
    this.resume = resume;
    const out: string[] = [];
    rewriteResponseHeaders(rawHeaders, out);
    const host = this.#host;
    if (host.settings.backendHeader) out.push('x-backend', up.id);
    out.push('x-request-id', this.requestId);
    const cookie = host.stickyCookie(this, up);
    if (cookie !== undefined) out.push('set-cookie', cookie);
    if (this.decision !== null) out.push('x-lb-decision', this.decision);
    if (this.#host.shuttingDown) out.push('connection', 'close');
    if (statusText) this.res.writeHead(statusCode, statusText, out);
    else this.res.writeHead(statusCode, out);
    return true;
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
    if (!this.clientGone) {
      if (trailers !== null && trailers.length > 0 && this.res.chunkedEncoding) {
        const t: [string, string][] = [];
        for (let i = 0; i < trailers.length; i += 2) t.push([String(trailers[i]), String(trailers[i + 1])]);
        this.res.addTrailers(t);
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
    const policy = { code: 'SWY_UPSTREAM_RESET' as const, requestSent: true, method: this.req.method ?? 'GET', hasBody: this.head.hasBody, attempts: this.attempts, maxRetries: this.#host.settings.maxRetries, remainingMs: this.#remainingMs() };
    if (!mayRetry(policy) || this.abortUpstream === null) return false;
    const exclude = this.tried ? [...this.tried, up] : [up];
    const next = this.#host.pick(this, exclude);
    if (next === undefined || !this.#host.acquireRetry()) return false;
    this.statusRetryTo = next;
    this.abortUpstream(new StatusRetry(status));
    return true;
  }

  /** Whether this request may go to another backend after a failure with `code`. */
  #mayRetry(code: ErrorCode, requestSent: boolean): boolean {
    return (
      mayRetry({ code, requestSent, method: this.req.method ?? 'GET', hasBody: this.head.hasBody, attempts: this.attempts, maxRetries: this.#host.settings.maxRetries, remainingMs: this.#remainingMs() }) &&
      this.#host.acquireRetry()
    );
  }

  onError(err: Error): void {
    const sock = this.res.socket;
    const gone = this.clientGone || sock === null || sock.destroyed;
    const statusRetry = err instanceof StatusRetry;
    const up = this.closeAttempt(gone && !statusRetry ? 'cancelled' : 'failure');
    if (gone) {
      this.clientGone = true;
      this.finish('client closed');
      return;
    }
    const code: ErrorCode = statusRetry ? 'SWY_UPSTREAM_RESET' : classifyUpstreamError(err);
    if (code === 'SWY_BAD_REQUEST') {
      this.fail(code);
      return;
    }
    const host = this.#host;
    if (!statusRetry) host.attemptFailed(up, code);
    if (this.res.headersSent) {
      // Part of the response is already out: the client must see it cut short.
      this.res.destroy(err);
      this.finish(code);
      return;
    }
    // A status retry already passed the policy, picked its backend and took its budget in onHeaders.
    if (statusRetry || this.#mayRetry(code, this.abortUpstream !== null)) {
      (this.tried ??= []).push(up);
      const next = statusRetry ? this.statusRetryTo : host.pick(this, this.tried);
      this.statusRetryTo = undefined;
      if (this.decision !== null) {
        (this.triedCodes ??= []).push({ id: up.id, code: statusRetry ? `status-${(err as StatusRetry).status}` : code });
        this.decision = host.explain(this, next, this.attempts + 1, this.tried, this.triedCodes);
      }
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
    const abort = this.abortUpstream;
    if (abort !== null && this.attemptOpen) abort();
    // Not yet connected: onConnect aborts it when the pool gets to it.
  }

  fail(code: ErrorCode): void {
    const host = this.#host;
    host.countError(code);
    if (this.decision !== null && !this.res.headersSent) this.res.setHeader('x-lb-decision', this.decision);
    sendError(this.res, code, this.requestId, host.shuttingDown, code === 'SWY_NO_BACKEND' ? 1 : undefined);
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
