import { Agent, type ClientRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import httpProxy from 'http-proxy';
import { classifyUpstreamError, type ErrorCode } from '../../common/errors.js';
import type { PickContext } from '../strategies/strategy.js';
import type { Upstream } from '../upstream.js';
import { logRequest } from './access-log.js';
import { unwatchClientSend, watchClientSend } from './client-send-watch.js';
import { sendError } from './error-response.js';
import type { ForwardHost, Forwarder, IncomingCall } from './forwarder.js';
import type { BodyEvents, IncomingBody } from './incoming-body.js';
import { clientAddress, rawHeaderValue } from './request-policy.js';
import { filterResponseHeaderObject, filterTrailers } from './response-policy.js';
import { headWaitMs } from './retry-policy.js';
import { firstPick, mayRetryAfter, moveOn, statusRetryTarget } from './attempt-loop.js';
import { UploadGate } from './upload-gate.js';

interface CallState extends PickContext, BodyEvents {
  readonly requestId: string;
  readonly body: IncomingBody;
  /** The body cannot be sent again (it streamed, or is larger than --retry-body-limit). */
  readonly bodyLost: boolean;
  readonly startedAt: number;
  upstream: Upstream | undefined;
  /** The backend of the latest attempt (kept after the attempt ends, for the access log). */
  lastUpstream: Upstream | undefined;
  attempts: number;
  attemptStartedAt: number;
  tried: Upstream[] | undefined;
  triedCodes: { id: string; code: string }[] | undefined;
  decision: string | null;
  sent: boolean;
  responded: boolean;
  done: boolean;
  faulted: boolean;
  proxyReq: ClientRequest | undefined;
  /** The backend whose upload slot the request holds while its streamed body is sent. */
  uploadSlot: string | null;
  cancelUploadWait: (() => void) | null;
}

const kCall = Symbol('switchyard.http-proxy-call');
type TaggedRequest = IncomingMessage & { [kCall]?: CallState };

/** Interim (1xx) responses allowed before the final one. */
const MAX_INTERIM = 16;

/**
 * Compatibility engine on http-proxy, the library the project started from
 * (`--engine http-proxy`). Slower than the other engines (docs/engines.md),
 * kept for parity and comparison. It mends http-proxy's known faults: the
 * upstream request is destroyed when the client goes away (no socket leak on
 * Node >= 16), every error is handled, each backend gets a keep-alive agent,
 * and the response is written by this engine (selfHandleResponse) under the
 * shared response policy, never by http-proxy's own passes.
 */
export class HttpProxyForwarder implements Forwarder {
  readonly name = 'http-proxy';
  readonly #host: ForwardHost;
  readonly #proxy: httpProxy;
  readonly #agents = new Map<Upstream, Agent>();
  readonly #forgotten = new WeakSet<Upstream>();
  readonly #connectTimeoutMs: number;
  readonly #timeoutMs: number;
  readonly #maxSockets: number;
  readonly #uploads: UploadGate;
  readonly #retryOnStatus: ReadonlySet<number> | null;

  constructor(host: ForwardHost, opts: { connectTimeoutMs: number; timeoutMs: number; maxSockets: number }) {
    this.#host = host;
    this.#uploads = new UploadGate(Math.floor(opts.maxSockets / 2));
    const statuses = host.settings.retryOnStatus ?? [];
    this.#retryOnStatus = statuses.length ? new Set(statuses) : null;
    this.#connectTimeoutMs = opts.connectTimeoutMs;
    this.#timeoutMs = opts.timeoutMs;
    this.#maxSockets = opts.maxSockets;
    // No proxyTimeout: http-proxy applies it as an idle timeout on the backend socket for the
    // whole exchange, so a slow client was charged to the backend. The timers here cover the
    // connect and, once the request is sent, the wait for the response head (#onProxyReq).
    this.#proxy = httpProxy.createProxyServer({ xfwd: false, selfHandleResponse: true });
    this.#proxy.on('error', () => undefined);
    this.#proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage, res: ServerResponse) => this.#onProxyReq(proxyReq, req as TaggedRequest, res));
    this.#proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => this.#onProxyRes(proxyRes, req as TaggedRequest, res));
  }

  handle(req: IncomingMessage, res: ServerResponse, incoming: IncomingCall): void {
    const v = incoming.verdict;
    const body = incoming.body;
    const clientIp = clientAddress(req.socket.remoteAddress);
    // What goes upstream is the policy's, not the client's: target, fields, and the framing of the body as sent.
    req.url = v.path;
    req.headers = upstreamHeaders(v.host, v.headers, body);
    const call: CallState = {
      requestId: v.requestId,
      body,
      bodyLost: body.streaming || (body.buffer !== null && body.buffer.length > (this.#host.settings.retryBodyLimit ?? 0)),
      startedAt: performance.now(),
      upstream: undefined,
      lastUpstream: undefined,
      attempts: 0,
      attemptStartedAt: 0,
      tried: undefined,
      triedCodes: undefined,
      decision: null,
      sent: false,
      responded: false,
      done: false,
      faulted: false,
      proxyReq: undefined,
      uploadSlot: null,
      cancelUploadWait: null,
      clientIp,
      path: v.path,
      header: (name: string) => rawHeaderValue(req.rawHeaders, name),
      bodyReady: () => undefined,
      clientFault: (code: ErrorCode) => this.#clientFault(call, req as TaggedRequest, res, code),
      sendTimedOut: () => {
        if (call.cancelUploadWait !== null) this.#clientFault(call, req as TaggedRequest, res, 'SWY_QUEUE_TIMEOUT');
        else call.proxyReq?.destroy(Object.assign(new Error('the backend did not take the request body'), { code: 'ESOCKETTIMEDOUT' }));
      },
    };
    body.events = call;
    (req as TaggedRequest)[kCall] = call;
    res.on('close', () => {
      if (!call.done) this.#end(call, req as TaggedRequest, res);
    });
    const up = firstPick(this.#host, call);
    if (!up) {
      this.#host.gate.countError('SWY_NO_BACKEND');
      if (call.decision !== null) res.setHeader('x-lb-decision', call.decision);
      sendError(res, 'SWY_NO_BACKEND', call.requestId, this.#host.shuttingDown || !body.complete, 1);
      this.#end(call, req as TaggedRequest, res, 'SWY_NO_BACKEND');
      return;
    }
    this.#send(call, req as TaggedRequest, res, up);
  }

  #send(call: CallState, req: TaggedRequest, res: ServerResponse, up: Upstream): void {
    call.upstream = up;
    call.lastUpstream = up;
    call.attempts++;
    call.attemptStartedAt = performance.now();
    call.sent = false;
    up.inFlight++;
    up.requests++;
    const body = call.body;
    // A buffered body is sent from its copy (so a retry can send it again); a streamed one from the client.
    const buffer = body.buffer !== null ? bufferStream(body.buffer) : (body.stream ?? undefined);
    // An error of an earlier attempt (its answer dropped by a status retry) is not this one's.
    const attempt = call.attempts;
    const go = (): void =>
      this.#proxy.web(req, res, { target: up.url, agent: this.#agent(up), buffer: buffer === req ? undefined : buffer }, (err: Error) => {
        if (call.attempts === attempt) this.#onError(err, call, req, res);
      });
    if (!body.streaming || body.complete) {
      go();
      return;
    }
    // A body still arriving holds its connection as long as its client takes: only half of them may.
    call.cancelUploadWait = this.#uploads.acquire(up.id, () => {
      call.cancelUploadWait = null;
      call.uploadSlot = up.id;
      go();
    });
  }

  /**
   * `--retry-on-status`: when the policy, another backend and the budget
   * allow, drops this answer and its connection and sends the request on
   * (a buffered body from its copy; a streamed one is never sent twice).
   */
  #statusRetry(call: CallState, req: TaggedRequest, res: ServerResponse, proxyRes: IncomingMessage, up: Upstream, status: number): boolean {
    if (call.body.streaming) return false;
    const next = statusRetryTarget(this.#host, call, up, req.method ?? 'GET', call.bodyLost);
    if (next === undefined) return false;
    proxyRes.destroy();
    call.proxyReq?.destroy();
    const ms = performance.now() - call.attemptStartedAt;
    up.inFlight--;
    up.recordAttempt(ms * 1000, true);
    this.#host.attemptEnded(up, 'failure', ms);
    call.upstream = undefined;
    moveOn(this.#host, call, up, `status-${status}`, next);
    this.#send(call, req, res, next);
    return true;
  }

  #releaseUpload(call: CallState): void {
    call.cancelUploadWait?.();
    call.cancelUploadWait = null;
    if (call.uploadSlot !== null) {
      this.#uploads.release(call.uploadSlot);
      call.uploadSlot = null;
    }
  }

  #onProxyReq(proxyReq: ClientRequest, req: TaggedRequest, res: ServerResponse): void {
    const call = req[kCall];
    if (!call) return;
    call.proxyReq = proxyReq;
    // Connection is hop-by-hop: the client's Connection: close ends its own connection, not
    // the pooled one to the backend (Node's agent then asks for keep-alive).
    const connection = proxyReq.getHeader('connection');
    if (connection !== undefined && !/upgrade/i.test(String(connection))) proxyReq.removeHeader('connection');
    const timeout = (): void => void proxyReq.destroy(headTimeout());
    proxyReq.setTimeout(this.#connectTimeoutMs, timeout);
    const connected = (): void => {
      call.sent = true;
      // Connected: until the request is all sent, only the client (its body timeout) and the
      // backend's willingness to take bytes (the send timeout) set the pace.
      proxyReq.setTimeout(0);
    };
    const onSocket = (s: Socket): void => {
      if (s.connecting) s.once('connect', connected);
      else connected();
    };
    // http-proxy 1.18 emits 'proxyReq' from inside the request's own 'socket' event: by now the
    // socket is usually assigned, and a 'socket' listener added here would never be called (the
    // request was then never seen as sent, and a POST could be retried after the backend had it).
    if (proxyReq.socket) onSocket(proxyReq.socket);
    else proxyReq.once('socket', onSocket);
    proxyReq.once('finish', () => {
      this.#releaseUpload(call);
      proxyReq.setTimeout(headWaitMs(this.#timeoutMs, call.startedAt, this.#host.settings.requestTimeoutMs), timeout);
    });
    let interim = 0;
    proxyReq.on('information', () => {
      if (++interim > MAX_INTERIM) proxyReq.destroy(Object.assign(new Error('too many interim responses'), { code: 'HPE_INVALID_STATUS' }));
    });
    // http-proxy listens for the deprecated 'aborted' event, which Node >= 16
    // no longer emits in every case; destroy the upstream request ourselves.
    res.on('close', () => {
      if (!res.writableFinished) proxyReq.destroy();
    });
  }

  #onProxyRes(proxyRes: IncomingMessage, req: TaggedRequest, res: ServerResponse): void {
    const call = req[kCall];
    const up = call?.upstream;
    if (!call || !up || call.faulted) {
      proxyRes.destroy();
      return;
    }
    // The head is here: from now on the client sets the pace, however slowly it reads.
    call.proxyReq?.setTimeout(0);
    const status = proxyRes.statusCode ?? 0;
    if (this.#retryOnStatus?.has(status) && this.#statusRetry(call, req, res, proxyRes, up, status)) return;
    up.countStatus(status);
    const headers = filterResponseHeaderObject(proxyRes.rawHeaders, status < 200 || status === 204);
    if (this.#host.settings.backendHeader) headers['x-backend'] = up.id;
    headers['x-request-id'] = call.requestId;
    if (call.decision !== null) headers['x-lb-decision'] = call.decision;
    const cookie = this.#host.stickyCookie(call, up);
    if (cookie !== undefined) {
      const existing = headers['set-cookie'];
      headers['set-cookie'] = existing === undefined ? [cookie] : Array.isArray(existing) ? [...existing, cookie] : [existing, cookie];
    }
    // An answer before the whole request body came: that body is never read, so the connection closes.
    if (this.#host.shuttingDown || !call.body.complete) headers.connection = 'close';
    const failed = status >= 500;
    const headMs = performance.now() - call.attemptStartedAt;
    const writeHead = (): void => {
      if (res.headersSent || res.destroyed) return;
      if (proxyRes.statusMessage) res.writeHead(status, proxyRes.statusMessage, headers);
      else res.writeHead(status, headers);
      watchClientSend(res, this.#host.limits.clientSendTimeoutMs);
    };
    // No body follows a 204, a 304 or a HEAD answer: the head goes out once the response ended
    // cleanly, so a backend that breaks framing here still gets the client a clean 502.
    const noBody = status === 204 || status === 304 || req.method === 'HEAD';
    if (!noBody) writeHead();
    // The body, with backpressure; never a write after the response ended.
    proxyRes.on('data', (chunk: Buffer) => {
      if (res.writableEnded || res.destroyed) return;
      if (!res.write(chunk)) {
        proxyRes.pause();
        res.once('drain', () => proxyRes.resume());
      }
    });
    proxyRes.once('end', () => {
      if (call.upstream !== up) return;
      call.responded = true;
      up.recordAttempt((performance.now() - call.attemptStartedAt) * 1000, failed);
      this.#host.attemptEnded(up, failed ? 'failure' : 'success', headMs);
      if (noBody) writeHead();
      if (!res.writableEnded && !res.destroyed) {
        const kept = res.chunkedEncoding ? filterTrailers(proxyRes.rawTrailers) : null;
        if (kept !== null) {
          const t: [string, string][] = [];
          for (let i = 0; i < kept.length; i += 2) t.push([kept[i]!, kept[i + 1]!]);
          res.addTrailers(t);
        }
        res.end();
      }
      this.#end(call, req, res);
    });
    // A backend that fails mid-body must not look like a complete response to the client.
    proxyRes.once('close', () => {
      if (!proxyRes.complete && !res.destroyed) res.destroy();
    });
    proxyRes.on('error', () => undefined);
  }

  #onError(err: Error, call: CallState, req: TaggedRequest, res: ServerResponse): void {
    this.#releaseUpload(call);
    const up = call.upstream;
    if (call.done || call.faulted || !up) return;
    up.inFlight--;
    const ms = performance.now() - call.attemptStartedAt;
    up.recordAttempt(ms * 1000, true);
    call.upstream = undefined;
    if (res.destroyed || res.socket === null || res.socket.destroyed) {
      this.#host.attemptEnded(up, 'cancelled', ms);
      this.#end(call, req, res);
      return;
    }
    this.#host.attemptEnded(up, 'failure', ms);
    const code = classifyUpstreamError(err);
    this.#host.attemptFailed(up, code);
    if (res.headersSent) {
      res.destroy();
      this.#end(call, req, res);
      return;
    }
    // A streamed body has been piped into the failed request (even before it connected): never replay it.
    if (!call.body.streaming && mayRetryAfter(this.#host, call, req.method ?? 'GET', code, call.sent, call.bodyLost)) {
      const next = moveOn(this.#host, call, up, code);
      if (next) {
        this.#send(call, req, res, next);
        return;
      }
    }
    this.#host.gate.countError(code);
    if (call.decision !== null) res.setHeader('x-lb-decision', call.decision);
    sendError(res, code, call.requestId, this.#host.shuttingDown || !call.body.complete);
    this.#end(call, req, res, code);
  }

  /** The client broke its own request: the attempt is cancelled, the client answered (or cut), nothing blamed. */
  #clientFault(call: CallState, req: TaggedRequest, res: ServerResponse, code: ErrorCode): void {
    if (call.done) return;
    call.faulted = true;
    const up = call.upstream;
    if (up !== undefined && !call.responded) {
      up.inFlight--;
      this.#host.attemptEnded(up, 'cancelled', performance.now() - call.attemptStartedAt);
      call.upstream = undefined;
    }
    call.proxyReq?.destroy();
    if (res.headersSent) res.destroy();
    else {
      this.#host.gate.countError(code);
      sendError(res, code, call.requestId, true);
    }
    this.#end(call, req, res, code);
  }

  /** `error`: the code or reason when the request did not end with a backend's response. */
  #end(call: CallState, req: TaggedRequest, res: ServerResponse, error?: string): void {
    if (call.done) return;
    call.done = true;
    if (call.upstream) {
      call.upstream.inFlight--;
      // Ended without its response finishing (the client left): the attempt says nothing.
      if (!call.responded) this.#host.attemptEnded(call.upstream, 'cancelled', performance.now() - call.attemptStartedAt);
    }
    this.#releaseUpload(call);
    call.body.close();
    unwatchClientSend(res);
    call.upstream = undefined;
    call.proxyReq = undefined;
    req[kCall] = undefined;
    // A response this engine did not end was cut short by its client: 499, as the other engines log it.
    logRequest(
      this.#host,
      call,
      req.method ?? '',
      res.writableEnded ? res.statusCode : 499,
      call.lastUpstream,
      res.writableEnded ? error : (error ?? 'client closed'),
    );
    this.#host.gate.requestDone();
  }

  #agent(up: Upstream): Agent {
    let a = this.#agents.get(up);
    if (!a) {
      // A backend removed between its pick and now: an agent that keeps no connection, never stored.
      if (this.#forgotten.has(up)) return new Agent({ keepAlive: false, maxSockets: this.#maxSockets });
      a = new Agent({ keepAlive: true, maxSockets: this.#maxSockets, maxFreeSockets: 64 });
      this.#agents.set(up, a);
    }
    return a;
  }

  /** Requests come from http.Server's 'request' event: nothing to take over. */
  attach(_server: Server): void {}

  /** The backend left the registry: its idle sockets close now, busy ones when their requests end. */
  forget(up: Upstream): void {
    this.#forgotten.add(up);
    const a = this.#agents.get(up);
    if (a === undefined) return;
    this.#agents.delete(up);
    retire(a);
  }

  /** Client connections belong to http.Server, which closes them. */
  closeIdleConnections(): void {}

  closeAllConnections(): void {}

  async close(): Promise<void> {
    for (const up of [...this.#agents.keys()]) this.forget(up);
    this.#proxy.close();
  }

  async destroy(): Promise<void> {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
    this.#proxy.close();
  }
}

/**
 * An agent that keeps no more connections: its free sockets close now, and
 * each busy one when its request ends (Node's Agent reads keepAlive then).
 */
function retire(agent: Agent): void {
  (agent as unknown as { keepAlive: boolean }).keepAlive = false;
  for (const list of Object.values(agent.freeSockets)) for (const socket of list ?? []) socket.destroy();
}

/** The upstream request's fields as Node's header object: Host first, the policy's fields, the framing of the body as it is sent. */
function upstreamHeaders(host: string, fields: readonly string[], body: IncomingBody): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (host !== '') out.host = host;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    const value = fields[i + 1]!;
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [had, value];
  }
  if (body.buffer !== null) out['content-length'] = String(body.buffer.length);
  else if (body.stream !== null) {
    if (body.declaredLength >= 0) out['content-length'] = String(body.declaredLength);
    else out['transfer-encoding'] = 'chunked';
  } else if (body.declaredLength === 0) out['content-length'] = '0';
  return out;
}

/** A readable of `buf`, for http-proxy's `buffer` option (piped into the upstream request). */
function bufferStream(buf: Buffer): PassThrough {
  const s = new PassThrough();
  s.end(buf);
  return s;
}

/** The error a backend that sent no response head in time is failed with (SWY_UPSTREAM_TIMEOUT, 504). */
function headTimeout(): Error {
  return Object.assign(new Error('the backend did not send a response head in time'), { code: 'ESOCKETTIMEDOUT' });
}
