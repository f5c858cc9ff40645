import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { AdmissionHost } from './forward/admission.js';
import type { BufferBudget } from './forward/buffer-budget.js';
import { rawErrorResponse, sendError } from './forward/error-response.js';
import type { Forwarder } from './forward/forwarder.js';
import type { RequestLimits } from './forward/request-limits.js';
import { clientAddress, evaluateRequest, newVerdict, type PolicyVerdict, type RequestPolicyOptions } from './forward/request-policy.js';
import type { WebSocketTunnels } from './forward/websocket-tunnels.js';
import { IdleSockets } from './idle-sockets.js';

export interface HttpListenerDeps {
  readonly gate: AdmissionHost;
  readonly limits: RequestLimits;
  readonly policy: RequestPolicyOptions;
  readonly bodyBudget: BufferBudget;
  /** The backend's send timeout (ms): how long a backend may leave body bytes untaken. */
  readonly sendTimeoutMs: number;
  readonly forwarder: Forwarder;
  readonly tunnels: WebSocketTunnels;
  readonly requestId: () => string;
  /** True once the balancer is closing: responses then carry Connection: close. */
  readonly shuttingDown: () => boolean;
  readonly maxHeaderSize: number;
  readonly keepAliveTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * The proxy's http.Server and what it parses: each request with the
 * request policy's verdict to the engine (server-client.ts and the request
 * core), or to the WebSocket tunnels; bytes it cannot parse answered 400, 431 or 408 and the
 * connection closed. (The raw engine takes connections before http.Server
 * does and hands it only upgrades.)
 */
export class HttpListener {
  readonly server: Server;
  readonly gate: AdmissionHost;
  readonly limits: RequestLimits;
  readonly bodyBudget: BufferBudget;
  readonly sendTimeoutMs: number;
  readonly #deps: HttpListenerDeps;
  readonly #idle = new IdleSockets();

  constructor(deps: HttpListenerDeps) {
    this.#deps = deps;
    this.gate = deps.gate;
    this.limits = deps.limits;
    this.bodyBudget = deps.bodyBudget;
    this.sendTimeoutMs = deps.sendTimeoutMs;
    const server = createServer({ maxHeaderSize: deps.maxHeaderSize, keepAliveTimeout: deps.keepAliveTimeoutMs, noDelay: true }, (req, res) =>
      this.#onRequest(req, res),
    );
    // One field more than the policy allows reaches it, so it can answer 431 instead of Node truncating.
    server.maxHeadersCount = deps.limits.maxHeaders + 1;
    // Expect: answered by the policy (417) or, for 100-continue, after admission (the request core).
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
    server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    server.on('clientError', (err: Error & { code?: string }, socket: Socket) => this.#onClientError(err, socket));
    server.on('error', (err) => deps.logger.error({ err }, 'proxy server error'));
    this.#idle.track(server);
    this.server = server;
  }

  /** Shutdown: connections http.Server serves that have been idle for `ms` close (the first call starts watching). */
  closeIdleConnections(ms: number): void {
    this.#idle.closeIdleFor(ms);
  }

  get shuttingDown(): boolean {
    return this.#deps.shuttingDown();
  }

  /** A request http.Server parsed: to the engine with the policy's verdict (a refusal is answered there, in turn). */
  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.#forward(req, res, this.#verdictFor(req));
  }

  /**
   * An Upgrade request on http.Server: an allowed protocol (WebSocket) is
   * tunnelled; any other (h2c) is served as a plain request on a response
   * made for the socket, which then closes (the policy refuses an Upgrade
   * request with a body).
   */
  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    this.#idle.forget(socket as Socket);
    const v = this.#verdictFor(req);
    if (v.refusal === undefined && v.upgrade !== undefined) {
      this.#deps.tunnels.handle(req, socket, head, v);
      return;
    }
    const code = v.refusal;
    if (code !== undefined) {
      this.gate.requestRefused();
      this.gate.countError(code);
      if (!socket.destroyed) socket.end(rawErrorResponse(code, v.requestId));
      return;
    }
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    req.push(null);
    this.#forward(req, res, v);
  }

  /** The request policy's verdict on a request http.Server parsed. */
  #verdictFor(req: IncomingMessage): PolicyVerdict {
    const facts = {
      method: req.method ?? 'GET',
      target: req.url ?? '',
      major: req.httpVersionMajor,
      minor: req.httpVersionMinor,
      headers: req.rawHeaders,
      clientIp: clientAddress(req.socket.remoteAddress),
      proto: (req.socket as Socket & { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
    };
    return evaluateRequest(facts, this.#deps.policy, this.#deps.requestId, newVerdict());
  }

  #forward(req: IncomingMessage, res: ServerResponse, v: PolicyVerdict): void {
    try {
      this.#deps.forwarder.handle(req, res, v);
    } catch (err) {
      // A fault of ours: the request gets 500 and its connection closes (the gate's count of it may be off by one).
      this.#deps.logger.error({ err, url: req.url }, 'request handler failed');
      this.gate.countError('SWY_INTERNAL');
      sendError(res, 'SWY_INTERNAL', v.requestId, true);
    }
  }

  #onClientError(err: Error & { code?: string }, socket: Socket): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const code: ErrorCode =
      err.code === 'HPE_HEADER_OVERFLOW' ? 'SWY_HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'SWY_REQUEST_TIMEOUT' : 'SWY_BAD_REQUEST';
    this.gate.countError(code);
    this.#deps.logger.debug({ code: err.code, remote: socket.remoteAddress }, 'bad request from client');
    const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (res) {
      // Unparsable bytes after a whole request: that request is answered first, then 400 and close.
      // Inside a request (its body broken), nothing sane can follow: cut.
      if (!res.req.complete) {
        socket.destroy();
        return;
      }
      res.once('finish', () => (socket.writable ? socket.end(rawErrorResponse(code)) : socket.destroy()));
      res.once('close', () => {
        if (!res.writableFinished) socket.destroy();
      });
      return;
    }
    socket.end(rawErrorResponse(code));
  }
}
