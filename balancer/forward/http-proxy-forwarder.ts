import { Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import httpProxy from 'http-proxy';
import { classifyUpstreamError } from '../../common/errors.js';
import type { PickContext } from '../strategies/strategy.js';
import type { Upstream } from '../upstream.js';
import { sendError } from './error-response.js';
import type { ForwardHost, Forwarder } from './forwarder.js';
import { clientAddress, rewriteParsedHeaders } from './request-headers.js';
import { deadlineLeft, headWaitMs, mayRetry } from './retry-policy.js';

interface CallState extends PickContext {
  readonly requestId: string;
  readonly hasBody: boolean;
  readonly startedAt: number;
  upstream: Upstream | undefined;
  attempts: number;
  attemptStartedAt: number;
  tried: Upstream[];
  triedCodes: { id: string; code: string }[];
  decision: string | null;
  sent: boolean;
  responded: boolean;
  done: boolean;
  proxyReq: ClientRequest | undefined;
}

const kCall = Symbol('switchyard.http-proxy-call');
type TaggedRequest = IncomingMessage & { [kCall]?: CallState };

/**
 * Compatibility engine on http-proxy, the library the project started from
 * (`--engine http-proxy`). Slower than the undici engine (docs/engines.md),
 * kept for parity and comparison. It mends http-proxy's known faults: the
 * upstream request is destroyed when the client goes away (no socket leak on
 * Node >= 16), every error is handled, and each backend gets a keep-alive agent.
 */
export class HttpProxyForwarder implements Forwarder {
  readonly name = 'http-proxy';
  readonly #host: ForwardHost;
  readonly #proxy: httpProxy;
  readonly #agents = new Map<string, Agent>();
  readonly #connectTimeoutMs: number;
  readonly #timeoutMs: number;

  constructor(host: ForwardHost, opts: { connectTimeoutMs: number; timeoutMs: number; maxSockets: number }) {
    this.#host = host;
    this.#connectTimeoutMs = opts.connectTimeoutMs;
    this.#timeoutMs = opts.timeoutMs;
    this.#maxSockets = opts.maxSockets;
    // No proxyTimeout: http-proxy applies it as an idle timeout on the backend socket for the
    // whole exchange, so a client reading slowly had its transfer cut upstream. The timeout
    // here covers the wait for the response head only (#onProxyReq, #onProxyRes).
    this.#proxy = httpProxy.createProxyServer({ xfwd: false });
    this.#proxy.on('error', () => undefined);
    this.#proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage, res: ServerResponse) => this.#onProxyReq(proxyReq, req as TaggedRequest, res));
    this.#proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => this.#onProxyRes(proxyRes, req as TaggedRequest, res));
  }

  readonly #maxSockets: number;

  handle(req: IncomingMessage, res: ServerResponse): void {
    const h = req.headers;
    const clientIp = clientAddress(req.socket.remoteAddress);
    const requestId = rewriteParsedHeaders(h, clientIp, this.#host.settings.trustForwarded, () => this.#host.nextRequestId());
    delete h.expect;
    const call: CallState = {
      requestId,
      hasBody: (h['content-length'] !== undefined && h['content-length'] !== '0') || h['transfer-encoding'] !== undefined,
      startedAt: performance.now(),
      upstream: undefined,
      attempts: 0,
      attemptStartedAt: 0,
      tried: [],
      triedCodes: [],
      decision: this.#host.wantsExplanation(req) ? '' : null,
      sent: false,
      responded: false,
      done: false,
      proxyReq: undefined,
      clientIp,
      path: req.url ?? '/',
      header: (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      },
    };
    (req as TaggedRequest)[kCall] = call;
    res.on('close', () => {
      if (!call.done) this.#end(call, req as TaggedRequest);
    });
    const up = this.#host.pick(call);
    if (call.decision !== null) call.decision = this.#host.explain(call, up, 1, undefined, []);
    if (!up) {
      this.#host.countError('SWY_NO_BACKEND');
      if (call.decision !== null) res.setHeader('x-lb-decision', call.decision);
      sendError(res, 'SWY_NO_BACKEND', requestId, this.#host.shuttingDown, 1);
      return;
    }
    this.#send(call, req as TaggedRequest, res, up);
  }

  #send(call: CallState, req: TaggedRequest, res: ServerResponse, up: Upstream): void {
    call.upstream = up;
    call.attempts++;
    call.attemptStartedAt = performance.now();
    call.sent = false;
    up.inFlight++;
    up.requests++;
    this.#proxy.web(req, res, { target: up.url, agent: this.#agent(up) }, (err: Error) => this.#onError(err, call, req, res));
  }

  #onProxyReq(proxyReq: ClientRequest, req: TaggedRequest, res: ServerResponse): void {
    const call = req[kCall];
    if (!call) return;
    call.proxyReq = proxyReq;
    // Connection is hop-by-hop: the client's Connection: close ends its own connection, not
    // the pooled one to the backend (Node's agent then asks for keep-alive).
    const connection = proxyReq.getHeader('connection');
    if (connection !== undefined && !/upgrade/i.test(String(connection))) proxyReq.removeHeader('connection');
    proxyReq.setTimeout(headWaitMs(this.#connectTimeoutMs + this.#timeoutMs, call.startedAt, this.#host.settings.requestTimeoutMs), () => proxyReq.destroy(headTimeout()));
    proxyReq.on('socket', (s) => {
      if (s.connecting) s.once('connect', () => (call.sent = true));
      else call.sent = true;
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
    if (!call || !up) return;
    // The head is here: from now on the client sets the pace, however slowly it reads.
    call.proxyReq?.setTimeout(0);
    // A backend that fails mid-body must not look like a complete response to the client.
    proxyRes.once('close', () => {
      if (!proxyRes.complete && !res.destroyed) res.destroy();
    });
    up.countStatus(proxyRes.statusCode ?? 0);
    if (this.#host.settings.backendHeader) proxyRes.headers['x-backend'] = up.id;
    proxyRes.headers['x-request-id'] = call.requestId;
    if (call.decision !== null) proxyRes.headers['x-lb-decision'] = call.decision;
    const failed = (proxyRes.statusCode ?? 0) >= 500;
    const headMs = performance.now() - call.attemptStartedAt;
    const cookie = this.#host.stickyCookie(call, up);
    if (cookie !== undefined) {
      const existing = proxyRes.headers['set-cookie'];
      proxyRes.headers['set-cookie'] = existing ? [...existing, cookie] : [cookie];
    }
    proxyRes.once('end', () => {
      if (call.upstream !== up) return;
      call.responded = true;
      up.recordAttempt((performance.now() - call.attemptStartedAt) * 1000, failed);
      this.#host.attemptEnded(up, failed ? 'failure' : 'success', headMs);
    });
    // ...and the backend's Connection: close ends the pooled connection, not the client's.
    delete proxyRes.headers.connection;
    delete proxyRes.headers['keep-alive'];
    if (this.#host.shuttingDown) proxyRes.headers.connection = 'close';
    proxyRes.once('end', () => this.#end(call, req));
  }

  #onError(err: Error, call: CallState, req: TaggedRequest, res: ServerResponse): void {
    const up = call.upstream;
    if (call.done || !up) return;
    up.inFlight--;
    const ms = performance.now() - call.attemptStartedAt;
    up.recordAttempt(ms * 1000, true);
    call.upstream = undefined;
    if (res.destroyed || res.socket === null || res.socket.destroyed) {
      this.#host.attemptEnded(up, 'cancelled', ms);
      this.#end(call, req);
      return;
    }
    this.#host.attemptEnded(up, 'failure', ms);
    const code = classifyUpstreamError(err);
    this.#host.attemptFailed(up, code);
    if (res.headersSent) {
      res.destroy();
      this.#end(call, req);
      return;
    }
    // A streamed body has been piped into the failed request: never replay it.
    if (!call.hasBody && mayRetry({ code, requestSent: call.sent, method: req.method ?? 'GET', hasBody: call.hasBody, attempts: call.attempts, maxRetries: this.#host.settings.maxRetries, remainingMs: deadlineLeft(call.startedAt, this.#host.settings.requestTimeoutMs) }) && this.#host.acquireRetry()) {
      call.tried.push(up);
      const next = this.#host.pick(call, call.tried);
      if (call.decision !== null) {
        call.triedCodes.push({ id: up.id, code });
        call.decision = this.#host.explain(call, next, call.attempts + 1, call.tried, call.triedCodes);
      }
      if (next) {
        this.#send(call, req, res, next);
        return;
      }
    }
    this.#host.countError(code);
    if (call.decision !== null) res.setHeader('x-lb-decision', call.decision);
    sendError(res, code, call.requestId, this.#host.shuttingDown);
    this.#end(call, req);
  }

  #end(call: CallState, req: TaggedRequest): void {
    if (call.done) return;
    call.done = true;
    if (call.upstream) {
      call.upstream.inFlight--;
      // Ended without its response finishing (the client left): the attempt says nothing.
      if (!call.responded) this.#host.attemptEnded(call.upstream, 'cancelled', performance.now() - call.attemptStartedAt);
    }
    call.upstream = undefined;
    call.proxyReq = undefined;
    req[kCall] = undefined;
    this.#host.requestDone();
  }

  #agent(up: Upstream): Agent {
    let a = this.#agents.get(up.id);
    if (!a) {
      a = new Agent({ keepAlive: true, maxSockets: this.#maxSockets, maxFreeSockets: 64, timeout: this.#connectTimeoutMs + this.#timeoutMs });
      this.#agents.set(up.id, a);
    }
    return a;
  }

  /** Drops the agent of a backend that left the registry. */
  forget(id: string): void {
    this.#agents.get(id)?.destroy();
    this.#agents.delete(id);
  }

  async close(): Promise<void> {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
    this.#proxy.close();
  }
}

/** The error a backend that sent no response head in time is failed with (SWY_UPSTREAM_TIMEOUT, 504). */
function headTimeout(): Error {
  return Object.assign(new Error('the backend did not send a response head in time'), { code: 'ESOCKETTIMEDOUT' });
}
