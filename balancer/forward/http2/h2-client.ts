import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { ERROR_CATALOGUE, type ErrorCode } from '../../../common/errors.js';
import { errorBody } from '../error-body.js';
import { errorFields } from '../error-response.js';
import type { ClientSide } from '../exchange/client-side.js';
import { Exchange, type ExchangeDeps } from '../exchange/exchange.js';
import type { PolicyVerdict } from '../request-policy.js';
import { filterResponseHeaders, type ResponseShape } from '../response-policy.js';

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = constants;

/** Scratch for filterResponseHeaders (HTTP/2 frames the body itself; the shape is not read). */
const SHAPE: ResponseShape = { hasLength: false, hasDate: false };

/** Connection-specific fields HTTP/2 may not carry (RFC 9113 §8.2.2); the response policy drops them already. */
const NOT_IN_H2 = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Of a request body the answer made unnecessary, this much is read and dropped before the stream is reset. */
const DISCARD_LIMIT = 64 * 1024;

/** What an HTTP/2 stream's client side tells its session (h2-listener.ts). */
export interface H2StreamOwner {
  /** The client reset a stream before its answer was complete. */
  streamAborted(): void;
}

/**
 * The client's end of one HTTP/2 stream (a ClientSide): its request body into
 * the exchange, the answer out as HEADERS and DATA frames. The request core
 * (exchange/exchange.ts) decides everything, as for HTTP/1.1. A stream is
 * one request: "close the connection after this answer" means nothing here
 * (the session outlives it); flow control is per stream (pausing a stream
 * holds back only its client's window). Response trailers are not sent.
 */
export class H2Client implements ClientSide<Exchange> {
  readonly clientIp: string;
  readonly #stream: ServerHttp2Stream;
  readonly #x: Exchange;
  readonly #bodyTimeoutMs: number;
  #reading = false;
  #paused = false;
  #drainHooked = false;
  #discarded = 0;

  constructor(deps: ExchangeDeps, owner: H2StreamOwner, stream: ServerHttp2Stream, method: string, v: PolicyVerdict, headers: string[]) {
    this.#stream = stream;
    this.clientIp = v.clientIp;
    this.#bodyTimeoutMs = deps.limits.clientBodyTimeoutMs;
    const x = new Exchange(this, deps, method, v, headers, false, true);
    this.#x = x;
    stream.on('close', () => this.#closed());
    stream.on('aborted', () => owner.streamAborted());
    // A body the exchange does not want (the request was refused) is read and dropped.
    stream.on('data', (chunk: Buffer) => this.#data(chunk));
    stream.on('end', () => this.#end());
    if (x.uploading) {
      this.#reading = true;
      stream.setTimeout(this.#bodyTimeoutMs, () => this.#bodyIdle());
    }
    x.activate();
  }

  #data(chunk: Buffer): void {
    if (this.#reading) this.#x.onRequestBody(chunk);
    else if ((this.#discarded += chunk.length) > DISCARD_LIMIT) this.#stream.close(NGHTTP2_NO_ERROR);
  }

  #end(): void {
    if (!this.#reading) return;
    this.#stopReading();
    this.#x.onRequestEnd();
  }

  #bodyIdle(): void {
    if (!this.#reading) return;
    const x = this.#x;
    if (this.#paused || !x.waitsForClientBody) {
      // We hold the body back (the backend, or admission, is not ready for it): not the client's stall.
      this.#stream.setTimeout(this.#bodyTimeoutMs);
      return;
    }
    this.#stopReading();
    x.bodyTimedOut();
  }

  #stopReading(): void {
    if (!this.#reading) return;
    this.#reading = false;
    this.#stream.setTimeout(0);
  }

  #closed(): void {
    this.#stopReading();
    if (!this.#x.done) this.#x.clientClosed();
  }

  // --- ClientSide -------------------------------------------------------------

  exchangeDone(_x: Exchange): void {
    if (!this.#reading) return;
    // Answered before its body was all in: the rest is read and dropped (up to a bound, then the stream is reset).
    this.#stopReading();
    this.resumeForBody();
  }

  pauseForBody(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#stream.pause();
  }

  resumeForBody(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#stream.resume();
  }

  cut(): void {
    this.#stopReading();
    if (!this.#stream.closed) this.#stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  readNoMore(): void {
    // One request per stream: nothing more comes on it anyway.
  }

  sendContinue(): void {
    if (!this.#stream.headersSent && !this.#stream.closed) this.#stream.additionalHeaders({ ':status': 100 });
  }

  sendHead(_x: Exchange, status: number, _statusText: string, headers: readonly string[], extra: readonly string[]): void {
    const fields: string[] = [];
    filterResponseHeaders(headers, status === 204, fields, SHAPE);
    for (let i = 0; i < extra.length; i++) fields.push(extra[i]!);
    this.#respond(status, fields, false);
  }

  sendBody(chunk: Buffer): boolean {
    const s = this.#stream;
    if (s.closed || s.writableEnded) return true;
    if (s.write(chunk)) return true;
    if (!this.#drainHooked) {
      this.#drainHooked = true;
      s.on('drain', () => this.#x.onClientDrain());
    }
    return false;
  }

  endResponse(_trailers: readonly string[] | null): void {
    const s = this.#stream;
    if (!s.closed && !s.writableEnded) s.end();
  }

  sendError(x: Exchange, code: ErrorCode, retryAfterSeconds: number | undefined, headers?: readonly string[]): void {
    const body = errorBody(code, x.requestId);
    const fields = errorFields(body, x.requestId, retryAfterSeconds, headers);
    if (x.decision !== null) fields.push('x-lb-decision', x.decision);
    const head = x.method === 'HEAD';
    if (this.#respond(ERROR_CATALOGUE[code].status, fields, head) && !head) this.#stream.end(body);
  }

  cork(): void {}

  uncork(): void {}

  /** HEADERS for the answer; false when the stream cannot take one (closed, or answered already). */
  #respond(status: number, fields: readonly string[], endStream: boolean): boolean {
    const s = this.#stream;
    if (s.closed || s.headersSent) return false;
    const out: OutgoingHttpHeaders = { ':status': status };
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!.toLowerCase();
      if (NOT_IN_H2.has(name)) continue;
      const prev = out[name];
      const value = fields[i + 1]!;
      if (prev === undefined) out[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else out[name] = [String(prev), value];
    }
    try {
      s.respond(out, { endStream });
      return true;
    } catch {
      // A field HTTP/2 cannot carry (Node checks names and values): the answer cannot be given as the backend sent it.
      s.close(NGHTTP2_INTERNAL_ERROR);
      return false;
    }
  }
}
