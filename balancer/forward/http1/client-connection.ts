import type { Socket } from 'node:net';
import type { ErrorCode } from '../../../common/errors.js';
import { Exchange, type ExchangeDeps } from '../exchange/exchange.js';
import type { ClientSide } from '../exchange/client-side.js';
import { errorResponseText, rawErrorResponse } from '../error-response.js';
import { clientAddress, evaluateRequest, newVerdict, type RequestPolicyOptions } from '../request-policy.js';
import {
  createParser,
  HEAD_CONTINUE,
  HEAD_STOP,
  isParseError,
  kOnBody,
  kOnHeaders,
  kOnHeadersComplete,
  kOnMessageComplete,
  METHODS,
  type LlhttpParser,
  type ParseError,
} from './http-parser.js';
import { Framing, responseHeadEnd, responseHeadStart } from './response-head.js';
import { readIntoSharedBuffer, SHARED_READ_BUFFER } from './shared-read.js';
import { parseSimpleRequest, SIMPLE_METHODS } from './simple-message.js';

/** What a client connection needs from its engine beyond what exchanges need. */
export interface ConnectionEngine extends ExchangeDeps {
  /** Seconds for the Keep-Alive response header; 0 = none. */
  readonly keepAliveSeconds: number;
  readonly maxHeaderSize: number;
  readonly keepAliveTimeoutMs: number;
  readonly policy: RequestPolicyOptions;
  /** Makes a request id (bound: called without its object). */
  readonly requestId: () => string;
  /** Gives the socket (bytes already read put back) to Node's http.Server. */
  handOff(socket: Socket): void;
  /** The connection closed or was handed off. */
  forgetConnection(c: ClientConnection): void;
}

/** A partial request head older than this gets 408 (Node's http.Server headersTimeout default). */
const HEADERS_TIMEOUT_MS = 60_000;

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';
/** Response bytes the socket may hold unread before the backend connection stops being read. */
const RESPONSE_BUFFER_LIMIT = 64 * 1024;

const PAUSE_PIPELINE = 1;
const PAUSE_BODY = 2;
const PAUSE_HANDOFF = 4;

/** llhttp's method index of each method parseSimpleRequest takes. */
const SIMPLE_METHOD_INDEX: readonly number[] = SIMPLE_METHODS.map((m) => METHODS.indexOf(m));

const kClient = Symbol('switchyard.clientConnection');
type TaggedSocket = Socket & { [kClient]?: ClientConnection; encrypted?: boolean };
type TaggedParser = LlhttpParser & { [kClient]?: ClientConnection };

/**
 * One client connection of the raw engine: llhttp parses requests as bytes
 * arrive; the request policy (../request-policy.ts) decides on each head;
 * requests are answered one at a time and in order (pipelined ones wait,
 * with reading paused). An allowed Upgrade (WebSocket) is handed to Node's
 * http.Server with the bytes read so far put back, once the responses
 * before it are out.
 *
 * Bytes that do not parse after complete requests: those requests are
 * answered, then 400 and close. A client that half-closes (FIN) is gone:
 * its requests are abandoned and their backend connections closed.
 */
export class ClientConnection implements ClientSide<Exchange> {
  readonly socket: TaggedSocket;
  readonly clientIp: string;
  readonly #engine: ConnectionEngine;
  readonly #parser: TaggedParser;
  /** Requests whose response is not complete, in order; the first is the active one. */
  readonly #queue: Exchange[] = [];
  #active: Exchange | null = null;
  /** The request whose body is being parsed. */
  #current: Exchange | null = null;
  #pendingHeaders: string[] = [];
  #pendingUrl = '';
  /** llhttp is between messages: a read may be taken by parseSimpleRequest first. */
  #parserIdle = true;
  #paused = 0;
  #pumping = false;
  /** No more requests are read: the connection closes once the queue is done. */
  #closing = false;
  /** Bytes that did not parse: answered with this once the requests before them are. */
  #pendingError: ErrorCode | null = null;
  #handoffHead: string | null = null;
  #handoffRest: Buffer | null = null;
  #idleSince: number;
  #idleBytes = 0;
  #headSeenAt = 0;
  /** How the active response's body is framed. */
  #framing = Framing.AsIs;
  /** Client body timeout: the socket's byte count and when it last moved while a body was awaited. */
  #bodyBytes = -1;
  #bodySeenAt = 0;

  constructor(socket: Socket, engine: ConnectionEngine) {
    this.socket = socket as TaggedSocket;
    this.#engine = engine;
    this.clientIp = clientAddress(socket.remoteAddress);
    this.#idleSince = Date.now();
    const p = createParser('request', engine.maxHeaderSize) as TaggedParser;
    p[kClient] = this;
    p[kOnHeaders] = parserOnHeaders;
    p[kOnHeadersComplete] = parserOnHeadersComplete;
    p[kOnBody] = parserOnBody;
    p[kOnMessageComplete] = parserOnMessageComplete;
    this.#parser = p;
    const s = this.socket;
    s[kClient] = this;
    if (!readIntoSharedBuffer(s, socketOnRead)) s.on('data', socketOnData);
    s.on('end', socketOnEnd);
    s.on('error', socketOnError);
    s.on('close', socketOnClose);
    s.on('drain', socketOnDrain);
  }

  get idle(): boolean {
    return this.#queue.length === 0 && this.#current === null && this.#handoffHead === null;
  }

  // --- socket events ----------------------------------------------------------

  onData(chunk: Buffer): void {
    if (this.#handoffRest !== null) {
      this.#handoffRest = Buffer.concat([this.#handoffRest, chunk]);
      return;
    }
    if (this.#closing) return;
    if (this.#parserIdle && this.#simpleRequest(chunk)) {
      this.#pump();
      return;
    }
    const p = this.#parser;
    const r = p.execute(chunk);
    if (isParseError(r)) {
      this.#parseError(r);
      return;
    }
    this.#parserIdle = p.headersCompleted();
    if (this.#handoffHead !== null) {
      // A copy: the chunk may be the shared read buffer, valid only now.
      this.#handoffRest = Buffer.from(chunk.subarray(r));
      this.#pause(PAUSE_HANDOFF);
      if (this.#queue.length === 0) this.#handoff();
      return;
    }
    this.#pump();
  }

  /**
   * A whole request without a body in this read, read without llhttp (./simple-message.ts),
   * with the calls llhttp would make; false: llhttp's turn.
   */
  #simpleRequest(chunk: Buffer): boolean {
    const r = parseSimpleRequest(chunk, this.#engine.maxHeaderSize);
    if (r === null) return false;
    const method = SIMPLE_METHOD_INDEX[r.methodIndex]!;
    // HEAD_STOP (a refusal, or after a request that closes) leaves the connection closing, as with llhttp.
    if (this.onHeadersComplete(1, 1, r.headers, method, r.url, false, r.keepAlive) === HEAD_CONTINUE) this.onMessageComplete();
    return true;
  }

  onEnd(): void {
    // The client half-closed: as nginx (and http.Server) treat it, the client is gone. Its
    // requests are abandoned, their backend connections closed (a client that sends a request
    // and leaves costs no backend anything), and the connection ends.
    this.#abandon();
    if (this.socket.writable) this.socket.end();
  }

  #abandon(): void {
    this.#closing = true;
    const q = this.#queue.splice(0);
    this.#active = null;
    for (const x of q) x.clientClosed();
    this.#current?.clientClosed();
    this.#current = null;
  }

  onClose(): void {
    this.#abandon();
    this.#engine.forgetConnection(this);
    this.#parser.close();
  }

  onDrain(): void {
    this.#active?.onClientDrain();
  }

  // --- parser events ----------------------------------------------------------

  onHeaders(headers: string[], url: string): void {
    for (let i = 0; i < headers.length; i++) this.#pendingHeaders.push(headers[i]!);
    if (url) this.#pendingUrl += url;
  }

  onHeadersComplete(
    major: number,
    minor: number,
    headers: string[] | undefined,
    methodIndex: number,
    url: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    if (headers === undefined) {
      headers = this.#pendingHeaders;
      this.#pendingHeaders = [];
    }
    if (url === undefined || url === '') {
      url = this.#pendingUrl;
      this.#pendingUrl = '';
    }
    if (this.#closing) {
      // Pipelined after a request that closes the connection: ignored, as http.Server does.
      this.#current = null;
      return HEAD_STOP;
    }
    const method = METHODS[methodIndex] ?? 'GET';
    const engine = this.#engine;
    // Fresh objects, not long-lived scratch ones: storing new strings into an old object costs a
    // write barrier per field, more than allocating (measured with callgrind, docs/performance.md).
    const v = evaluateRequest(
      { method, target: url, major, minor, headers, clientIp: this.clientIp, proto: this.socket.encrypted === true ? 'https' : 'http' },
      engine.policy,
      engine.requestId,
      newVerdict(),
    );
    if (v.refusal === undefined && v.upgrade !== undefined) {
      this.#handoffHead = serializeHead(method, url, major, minor, headers);
      this.#current = null;
      return HEAD_STOP;
    }
    // An Upgrade not on the allow-list is served as a plain request; llhttp reads nothing after it.
    const x = new Exchange(this, engine, method, v, headers, minor === 0, keepAlive && !upgrade);
    if (x.closeAfter) this.#closing = true;
    this.#queue.push(x);
    if (this.#queue.length > 1) this.#pause(PAUSE_PIPELINE);
    if (v.refusal !== undefined) {
      // Nothing after a refused head is read: its body's framing is not to be trusted.
      this.#current = null;
      return HEAD_STOP;
    }
    this.#current = x;
    return HEAD_CONTINUE;
  }

  onBody(chunk: Buffer): void {
    this.#current?.onRequestBody(chunk);
  }

  onMessageComplete(): void {
    // Request trailers are not forwarded; llhttp hands them over with the request's URL again, which must not
    // become the start of the next request's URL (as http.Server resets it too).
    if (this.#pendingHeaders.length > 0) this.#pendingHeaders = [];
    this.#pendingUrl = '';
    const x = this.#current;
    this.#current = null;
    x?.onRequestEnd();
  }

  // --- ClientSide -------------------------------------------------------------

  exchangeDone(x: Exchange): void {
    const q = this.#queue;
    if (q[0] === x) q.shift();
    else {
      const i = q.indexOf(x);
      if (i >= 0) q.splice(i, 1);
    }
    if (this.#active === x) this.#active = null;
    if (x.closeAfter) this.#closing = true;
    if (this.#closing && q.length === 0) {
      this.#finishConnection();
      return;
    }
    if (q.length <= 1) this.#resume(PAUSE_PIPELINE);
    if (q.length === 0) {
      if (this.#handoffRest !== null) {
        this.#handoff();
        return;
      }
      // Idle from the next sweep on (no clock read per request; the keep-alive timeout holds to the sweep's granularity).
      this.#idleSince = 0;
      this.#idleBytes = this.socket.bytesRead;
      this.#headSeenAt = 0;
    }
    this.#pump();
  }

  pauseForBody(): void {
    this.#pause(PAUSE_BODY);
  }

  resumeForBody(): void {
    this.#resume(PAUSE_BODY);
  }

  cut(): void {
    this.socket.destroy();
  }

  readNoMore(): void {
    this.#closing = true;
  }

  sendContinue(): void {
    this.socket.write(CONTINUE, 'latin1');
  }

  sendHead(x: Exchange, status: number, statusText: string, headers: readonly string[], extra: readonly string[]): void {
    const shape = { hasLength: false, hasDate: false };
    let text = responseHeadStart(status, statusText, headers, shape);
    for (let i = 0; i < extra.length; i += 2) text += `${extra[i]}: ${extra[i + 1]}\r\n`;
    const noBody = x.method === 'HEAD' || status === 204 || status === 304;
    const framing = noBody || shape.hasLength ? Framing.AsIs : x.http10 ? Framing.UntilClose : Framing.Chunked;
    if (framing === Framing.UntilClose) x.closeAfter = true;
    this.#framing = framing;
    this.socket.write(responseHeadEnd(text, shape.hasDate, framing, !x.closeAfter, this.#engine.keepAliveSeconds), 'latin1');
  }

  sendBody(chunk: Buffer): boolean {
    const s = this.socket;
    if (this.#framing === Framing.Chunked) {
      s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      s.write(chunk);
      s.write(CRLF, 'latin1');
    } else s.write(chunk);
    return s.writableLength <= RESPONSE_BUFFER_LIMIT;
  }

  endResponse(trailers: readonly string[] | null): void {
    if (this.#framing !== Framing.Chunked) return;
    if (trailers === null) {
      this.socket.write(LAST_CHUNK, 'latin1');
      return;
    }
    let t = '0\r\n';
    for (let i = 0; i < trailers.length; i += 2) t += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
    this.socket.write(`${t}\r\n`, 'latin1');
  }

  sendError(x: Exchange, code: ErrorCode, retryAfterSeconds: number | undefined, headers?: readonly string[]): void {
    this.#framing = Framing.AsIs;
    this.socket.write(
      errorResponseText(code, x.requestId, !x.closeAfter, this.#engine.keepAliveSeconds, retryAfterSeconds, x.decision, x.method === 'HEAD', headers),
      'latin1',
    );
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  // --- engine -----------------------------------------------------------------

  /** The engine's timer: idle keep-alive connections close, stalled heads get 408, stalled bodies 408. */
  sweep(now: number): void {
    const cur = this.#current;
    if (cur !== null) {
      this.#sweepBody(cur, now);
      return;
    }
    this.#bodyBytes = -1;
    if (!this.idle || this.#closing) return;
    if (this.socket.bytesRead !== this.#idleBytes) {
      if (this.#headSeenAt === 0) this.#headSeenAt = now;
      else if (now - this.#headSeenAt > HEADERS_TIMEOUT_MS) this.#answerAndClose('SWY_REQUEST_TIMEOUT');
      return;
    }
    if (this.#idleSince === 0) {
      this.#idleSince = now;
      return;
    }
    const limit = this.#engine.keepAliveTimeoutMs;
    if (limit > 0 && now - this.#idleSince > limit) this.socket.destroy();
  }

  /** A body is awaited: the client body timeout runs while reading is not paused by us. */
  #sweepBody(x: Exchange, now: number): void {
    const read = this.socket.bytesRead;
    if (this.#paused !== 0 || !x.waitsForClientBody || read !== this.#bodyBytes) {
      this.#bodyBytes = read;
      this.#bodySeenAt = now;
      return;
    }
    if (now - this.#bodySeenAt > this.#engine.limits.clientBodyTimeoutMs) {
      this.#current = null;
      x.bodyTimedOut();
    }
  }

  /** Shutdown: a connection idle (no request, no byte read) for at least `ms` closes; the first look starts its clock. */
  closeIfIdleFor(ms: number, now: number): void {
    if (!this.idle || this.#closing || this.socket.bytesRead !== this.#idleBytes) return;
    if (this.#idleSince === 0) this.#idleSince = now;
    else if (now - this.#idleSince >= ms) this.socket.destroy();
  }

  // --- internals --------------------------------------------------------------

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    while (this.#active === null && this.#queue.length > 0 && !this.socket.destroyed) {
      const x = this.#queue[0]!;
      this.#active = x;
      x.activate();
    }
    this.#pumping = false;
  }

  #parseError(err: ParseError): void {
    this.#closing = true;
    const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'SWY_HEADERS_TOO_LARGE' : 'SWY_BAD_REQUEST';
    const cur = this.#current;
    if (cur !== null) {
      // The bad bytes are inside a request's own body: that request is broken, not just what follows it.
      this.#current = null;
      if (cur.responseStarted || !this.socket.writable) {
        this.socket.destroy();
        return;
      }
      const i = this.#queue.indexOf(cur);
      if (i >= 0) this.#queue.splice(i, 1);
      if (this.#active === cur) this.#active = null;
      cur.clientClosed();
    }
    this.#pendingError = code;
    if (this.#queue.length === 0) this.#finishConnection();
    else this.#pump();
  }

  /** The last answer is out: a pending 400 for unparsable bytes is sent, then the connection ends. */
  #finishConnection(): void {
    const code = this.#pendingError;
    if (code !== null) {
      this.#pendingError = null;
      this.#answerAndClose(code);
      return;
    }
    if (this.socket.writable) this.socket.end();
  }

  #answerAndClose(code: ErrorCode): void {
    this.#closing = true;
    this.#engine.host.gate.countError(code);
    if (this.socket.writable) this.socket.end(rawErrorResponse(code));
  }

  #pause(bit: number): void {
    if (this.#paused === 0) this.socket.pause();
    this.#paused |= bit;
  }

  #resume(bit: number): void {
    if ((this.#paused & bit) === 0) return;
    this.#paused &= ~bit;
    if (this.#paused === 0) this.socket.resume();
  }

  #handoff(): void {
    const s = this.socket;
    const bytes = Buffer.concat([Buffer.from(this.#handoffHead!, 'latin1'), this.#handoffRest!]);
    this.#handoffHead = null;
    this.#handoffRest = null;
    s.removeListener('data', socketOnData);
    s.removeListener('end', socketOnEnd);
    s.removeListener('error', socketOnError);
    s.removeListener('close', socketOnClose);
    s.removeListener('drain', socketOnDrain);
    s[kClient] = undefined;
    this.#engine.forgetConnection(this);
    this.#parser.close();
    s.unshift(bytes);
    this.#engine.handOff(s);
  }
}

/** The request head again, from what llhttp validated, for http.Server to parse. */
function serializeHead(method: string, url: string, major: number, minor: number, headers: readonly string[]): string {
  let text = `${method} ${url} HTTP/${major}.${minor}\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${text}\r\n`;
}

function socketOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kClient]?.onData(chunk);
}
function socketOnRead(this: TaggedSocket, n: number): boolean {
  const c = this[kClient];
  if (c !== undefined) {
    c.onData(SHARED_READ_BUFFER.subarray(0, n));
    return true;
  }
  // Handed to http.Server (an upgrade): from here its reads are stream data, each a copy.
  return this.push(Buffer.from(SHARED_READ_BUFFER.subarray(0, n)));
}
function socketOnEnd(this: TaggedSocket): void {
  this[kClient]?.onEnd();
}
function socketOnError(): void {
  // 'close' follows.
}
function socketOnClose(this: TaggedSocket): void {
  this[kClient]?.onClose();
}
function socketOnDrain(this: TaggedSocket): void {
  this[kClient]?.onDrain();
}

function parserOnHeaders(this: TaggedParser, headers: string[], url: string): void {
  this[kClient]!.onHeaders(headers, url);
}
function parserOnHeadersComplete(
  this: TaggedParser,
  major: number,
  minor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  _status: number,
  _text: string,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  return this[kClient]!.onHeadersComplete(major, minor, headers, method, url, upgrade, keepAlive);
}
function parserOnBody(this: TaggedParser, chunk: Buffer): void {
  this[kClient]!.onBody(chunk);
}
function parserOnMessageComplete(this: TaggedParser): void {
  this[kClient]!.onMessageComplete();
}
