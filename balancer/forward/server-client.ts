import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../../common/errors.js';
import type { ClientSide } from './exchange/client-side.js';
import { Exchange, type ExchangeDeps } from './exchange/exchange.js';
import { sendError } from './error-response.js';
import { clientAddress, type PolicyVerdict } from './request-policy.js';
import { filterResponseHeaders, type ResponseShape } from './response-policy.js';

const kClient = Symbol('switchyard.serverClient');
type TaggedRequest = IncomingMessage & { [kClient]?: ServerClient };
type TaggedResponse = ServerResponse & { [kClient]?: ServerClient };

/** Scratch for filterResponseHeaders (http.Server frames the response itself; the shape is not read). */
const SHAPE: ResponseShape = { hasLength: false, hasDate: false };

/**
 * The client's end of one request that Node's http.Server parsed: the
 * undici engine's listener (documented APIs only), and the raw engine's for
 * what it hands to http.Server (an Upgrade served as a plain request). The
 * exchange (exchange/exchange.ts) decides everything; this moves the body
 * in and the response out through IncomingMessage and ServerResponse, and
 * keeps the client body timeout (the socket's idle timer, while the body is
 * awaited and we are not the ones holding it back).
 */
export class ServerClient implements ClientSide<Exchange> {
  readonly clientIp: string;
  readonly #req: TaggedRequest;
  readonly #res: TaggedResponse;
  readonly #bodyTimeoutMs: number;
  readonly #x: Exchange;
  /** Reading the body: its listeners and the socket's idle timer are on. */
  #reading = false;
  #paused = false;
  #drainHooked = false;

  constructor(engine: ExchangeDeps, req: IncomingMessage, res: ServerResponse, v: PolicyVerdict) {
    this.#req = req as TaggedRequest;
    this.#res = res as TaggedResponse;
    this.clientIp = clientAddress(req.socket.remoteAddress);
    this.#bodyTimeoutMs = engine.limits.clientBodyTimeoutMs;
    const http10 = req.httpVersionMajor === 1 && req.httpVersionMinor === 0;
    const x = new Exchange(this, engine, req.method ?? 'GET', v, req.rawHeaders, http10, res.shouldKeepAlive);
    this.#x = x;
    this.#res[kClient] = this;
    res.on('close', onResponseClose);
    if (x.uploading) {
      this.#reading = true;
      this.#req[kClient] = this;
      req.on('data', onRequestData);
      req.on('end', onRequestEnd);
      req.setTimeout(this.#bodyTimeoutMs, onBodyIdle);
    }
    x.activate();
  }

  /** The socket was idle for the client body timeout. */
  bodyIdle(): void {
    const req = this.#req;
    if (!this.#reading || req.complete) return;
    const x = this.#x;
    if (this.#paused || !x.waitsForClientBody) {
      // We hold the body back (the backend, or admission, is not ready for it): not the client's stall.
      req.socket?.setTimeout(this.#bodyTimeoutMs);
      return;
    }
    this.#stopReading();
    x.bodyTimedOut();
  }

  #stopReading(): void {
    if (!this.#reading) return;
    this.#reading = false;
    const req = this.#req;
    req.removeListener('data', onRequestData);
    req.removeListener('end', onRequestEnd);
    req.removeListener('timeout', onBodyIdle);
    req.socket?.setTimeout(0);
    req[kClient] = undefined;
  }

  requestData(chunk: Buffer): void {
    this.#x.onRequestBody(chunk);
  }

  requestEnd(): void {
    this.#stopReading();
    this.#x.onRequestEnd();
  }

  responseClosed(): void {
    this.#stopReading();
    this.#x.clientClosed();
  }

  responseDrained(): void {
    this.#x.onClientDrain();
  }

  // --- ClientSide -------------------------------------------------------------

  exchangeDone(_x: Exchange): void {
    this.#stopReading();
  }

  pauseForBody(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#req.pause();
  }

  resumeForBody(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#req.resume();
  }

  cut(): void {
    this.#stopReading();
    this.#res.destroy();
  }

  readNoMore(): void {
    // The response says Connection: close (the exchange set closeAfter); nothing more reaches the exchange.
    this.#stopReading();
  }

  sendContinue(): void {
    this.#res.writeContinue();
  }

  sendHead(x: Exchange, status: number, statusText: string, headers: readonly string[], extra: readonly string[]): void {
    const out: string[] = [];
    filterResponseHeaders(headers, status === 204, out, SHAPE);
    for (let i = 0; i < extra.length; i++) out.push(extra[i]!);
    if (x.closeAfter) out.push('connection', 'close');
    if (statusText) this.#res.writeHead(status, statusText, out);
    else this.#res.writeHead(status, out);
  }

  sendBody(chunk: Buffer): boolean {
    const res = this.#res;
    if (res.write(chunk)) return true;
    if (!this.#drainHooked) {
      this.#drainHooked = true;
      res.on('drain', onResponseDrain);
    }
    return false;
  }

  endResponse(trailers: readonly string[] | null): void {
    const res = this.#res;
    if (res.writableEnded) return;
    if (trailers !== null && trailers.length > 0 && res.chunkedEncoding) {
      const t: [string, string][] = [];
      for (let i = 0; i < trailers.length; i += 2) t.push([trailers[i]!, trailers[i + 1]!]);
      res.addTrailers(t);
    }
    res.end();
  }

  sendError(x: Exchange, code: ErrorCode, retryAfterSeconds: number | undefined, headers?: readonly string[]): void {
    const res = this.#res;
    if (x.decision !== null && !res.headersSent) res.setHeader('x-lb-decision', x.decision);
    sendError(res, code, x.requestId, x.closeAfter, retryAfterSeconds, headers);
  }

  cork(): void {
    this.#res.cork();
  }

  uncork(): void {
    this.#res.uncork();
  }
}

function onRequestData(this: TaggedRequest, chunk: Buffer): void {
  this[kClient]?.requestData(chunk);
}
function onRequestEnd(this: TaggedRequest): void {
  this[kClient]?.requestEnd();
}
function onBodyIdle(this: TaggedRequest): void {
  this[kClient]?.bodyIdle();
}
function onResponseClose(this: TaggedResponse): void {
  const c = this[kClient];
  this[kClient] = undefined;
  c?.responseClosed();
}
function onResponseDrain(this: TaggedResponse): void {
  this[kClient]?.responseDrained();
}
