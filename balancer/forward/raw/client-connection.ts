import type { Socket } from 'node:net';
import type { ErrorCode } from '../../../common/errors.js';
import { rawErrorResponse } from '../error-response.js';
import { clientAddress } from '../request-headers.js';
import { createParser, HEAD_CONTINUE, HEAD_STOP, isParseError, kOnBody, kOnHeaders, kOnHeadersComplete, kOnMessageComplete, METHODS, type LlhttpParser, type ParseError } from './http-parser.js';
import { BodyKind, RawExchange, type ClientSide, type EngineSide } from './raw-exchange.js';

/** What a client connection needs from its engine beyond what exchanges need. */
export interface ConnectionEngine extends EngineSide {
  readonly maxHeaderSize: number;
  readonly keepAliveTimeoutMs: number;
  /** Gives the socket (bytes already read put back) to Node's http.Server. */
  handOff(socket: Socket): void;
  /** The connection closed or was handed off. */
  forgetConnection(c: ClientConnection): void;
}

/** A partial request head older than this gets 408 (Node's http.Server headersTimeout default). */
const HEADERS_TIMEOUT_MS = 60_000;

const PAUSE_PIPELINE = 1;
const PAUSE_BODY = 2;
const PAUSE_HANDOFF = 4;

const kClient = Symbol('switchyard.clientConnection');
type TaggedSocket = Socket & { [kClient]?: ClientConnection };
type TaggedParser = LlhttpParser & { [kClient]?: ClientConnection };

/**
 * One client connection of the raw engine: llhttp parses requests as bytes
 * arrive; requests are answered one at a time and in order (pipelined ones
 * wait, with reading paused). What the engine does not handle (Upgrade,
 * CONNECT, absolute-form targets, an Expect other than 100-continue, HTTP
 * other than 1.0/1.1) is handed to Node's http.Server with the bytes read so
 * far put back, once the responses before it are out.
 */
export class ClientConnection implements ClientSide {
  readonly socket: TaggedSocket;
  readonly clientIp: string;
  readonly #engine: ConnectionEngine;
  readonly #parser: TaggedParser;
  /** Requests whose response is not complete, in order; the first is the active one. */
  readonly #queue: RawExchange[] = [];
  #active: RawExchange | null = null;
  /** The request whose body is being parsed. */
  #current: RawExchange | null = null;
  #pendingHeaders: string[] = [];
  #pendingUrl = '';
  #paused = 0;
  #pumping = false;
  /** No more requests are read: the connection closes once the queue is done. */
  #closing = false;
  #handoffHead: string | null = null;
  #handoffRest: Buffer | null = null;
  #idleSince: number;
  #idleBytes = 0;
  #headSeenAt = 0;

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
    s.on('data', socketOnData);
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
    const r = this.#parser.execute(chunk);
    if (isParseError(r)) {
      this.#parseError(r);
      return;
    }
    if (this.#handoffHead !== null) {
      this.#handoffRest = chunk.subarray(r);
      this.#pause(PAUSE_HANDOFF);
      if (this.#queue.length === 0) this.#handoff();
      return;
    }
    this.#pump();
  }

  onEnd(): void {
    // The client half-closed: as http.Server does (httpAllowHalfOpen off), its requests are
    // abandoned (their backend connections closed) and the connection ends.
    this.#abandon();
    if (this.socket.writable) this.socket.end();
  }

  onClose(): void {
    this.#abandon();
    this.#engine.forgetConnection(this);
    this.#parser.close();
  }

  #abandon(): void {
    this.#closing = true;
    const q = this.#queue.splice(0);
    this.#active = null;
    for (const x of q) x.clientClosed();
    this.#current?.clientClosed();
    this.#current = null;
  }

  onDrain(): void {
    this.#active?.onClientDrain();
  }

  // --- parser events ----------------------------------------------------------

  onHeaders(headers: string[], url: string): void {
    for (let i = 0; i < headers.length; i++) this.#pendingHeaders.push(headers[i]!);
    if (url) this.#pendingUrl += url;
  }

  onHeadersComplete(major: number, minor: number, headers: string[] | undefined, methodIndex: number, url: string | undefined, upgrade: boolean, keepAlive: boolean): number {
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
    let expect: string | undefined;
    let bodyKind = BodyKind.None;
    for (let i = 0; i < headers.length; i += 2) {
      const len = headers[i]!.length;
      if (len !== 6 && len !== 14 && len !== 17) continue;
      const name = headers[i]!.toLowerCase();
      if (name === 'expect') expect = headers[i + 1]!;
      else if (name === 'transfer-encoding') bodyKind = BodyKind.Chunked;
      else if (name === 'content-length' && headers[i + 1] !== '0' && bodyKind === BodyKind.None) bodyKind = BodyKind.Length;
    }
    if (upgrade || major !== 1 || url.charCodeAt(0) !== 47 /* / */ || (expect !== undefined && expect.toLowerCase() !== '100-continue')) {
      this.#handoffHead = serializeHead(method, url, major, minor, headers);
      this.#current = null;
      return HEAD_STOP;
    }
    const x = new RawExchange(this, this.#engine, method, url, headers, minor === 0, keepAlive, expect !== undefined, bodyKind);
    if (!keepAlive) this.#closing = true;
    this.#queue.push(x);
    this.#current = x;
    if (this.#queue.length > 1) this.#pause(PAUSE_PIPELINE);
    return HEAD_CONTINUE;
  }

  onBody(chunk: Buffer): void {
    this.#current?.onRequestBody(chunk);
  }

  onMessageComplete(): void {
    if (this.#pendingHeaders.length > 0) this.#pendingHeaders = []; // request trailers are not forwarded
    const x = this.#current;
    this.#current = null;
    x?.onRequestEnd();
  }

  // --- ClientSide -------------------------------------------------------------

  exchangeDone(x: RawExchange): void {
    const q = this.#queue;
    if (q[0] === x) q.shift();
    else {
      const i = q.indexOf(x);
      if (i >= 0) q.splice(i, 1);
    }
    if (this.#active === x) this.#active = null;
    if (x.closeAfter || (this.#closing && q.length === 0)) {
      this.#closing = true;
      this.socket.end();
      return;
    }
    if (q.length <= 1) this.#resume(PAUSE_PIPELINE);
    if (q.length === 0) {
      if (this.#handoffRest !== null) {
        this.#handoff();
        return;
      }
      this.#idleSince = Date.now();
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

  // --- engine -----------------------------------------------------------------

  /** The engine's timer: idle keep-alive connections close, stalled heads get 408. */
  sweep(now: number): void {
    if (!this.idle) return;
    if (this.socket.bytesRead !== this.#idleBytes) {
      if (this.#headSeenAt === 0) this.#headSeenAt = now;
      else if (now - this.#headSeenAt > HEADERS_TIMEOUT_MS) this.#answerAndClose('SWY_REQUEST_TIMEOUT');
      return;
    }
    const limit = this.#engine.keepAliveTimeoutMs;
    if (limit > 0 && now - this.#idleSince > limit) this.socket.destroy();
  }

  /** Shutdown: an idle connection closes now. */
  closeIfIdle(): void {
    if (this.idle && this.socket.bytesRead === this.#idleBytes) this.socket.destroy();
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
    if (this.#queue.length > 0 || !this.socket.writable) {
      // A response is on its way: nothing sane can be said after it.
      this.socket.destroy();
      return;
    }
    this.#answerAndClose(err.code === 'HPE_HEADER_OVERFLOW' ? 'SWY_HEADERS_TOO_LARGE' : 'SWY_BAD_REQUEST');
  }

  #answerAndClose(code: ErrorCode): void {
    this.#closing = true;
    this.#engine.host.countError(code);
    this.socket.end(rawErrorResponse(code));
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
function parserOnHeadersComplete(this: TaggedParser, major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, _status: number, _text: string, upgrade: boolean, keepAlive: boolean): number {
  return this[kClient]!.onHeadersComplete(major, minor, headers, method, url, upgrade, keepAlive);
}
function parserOnBody(this: TaggedParser, chunk: Buffer): void {
  this[kClient]!.onBody(chunk);
}
function parserOnMessageComplete(this: TaggedParser): void {
  this[kClient]!.onMessageComplete();
}
