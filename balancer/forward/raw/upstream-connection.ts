import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ErrorCode } from '../../../common/errors.js';
import { classifyUpstreamError } from '../../../common/errors.js';
import { buildRequestHead } from './request-head.js';
import { BODY_NONE, BODY_STREAMED, type OutgoingRequest, type ResponseSink, type UpstreamChannel } from '../exchange/upstream-transport.js';
import { headWaitMs } from '../retry-policy.js';
import {
  createParser,
  HEAD_CONTINUE,
  HEAD_SKIP_BODY,
  isParseError,
  kOnBody,
  kOnHeaders,
  kOnHeadersComplete,
  kOnMessageComplete,
  type LlhttpParser,
} from '../http1/http-parser.js';
import { parseSimpleResponse } from '../http1/simple-message.js';
import { idleTimeAfter, keepAliveHintIn } from '../http1/keep-alive-hint.js';

export interface UpstreamPoolOptions {
  /** Most connections open (or opening) to the backend; more requests wait in FIFO order. */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  /** Longest wait for the response head after the request went out. */
  readonly headersTimeoutMs: number;
  /** --request-timeout: the response head is awaited no later than this after the request arrived (0: no such bound). */
  readonly requestTimeoutMs: number;
  /** Longest pause between two pieces of the response body. */
  readonly bodyTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  readonly idleTimeoutMs: number;
  /** Longest wait for the backend to take request bytes it was sent (send timeout). */
  readonly sendTimeoutMs: number;
  /** Longest a client may leave response bytes unread before it is cut. */
  readonly clientSendTimeoutMs: number;
  /** Told each time a connection is opened (the backend's counter of connections opened). */
  readonly onOpen?: () => void;
}

/**
 * What a connection needs of the pool that owns it (upstream-pool.ts): where
 * to connect, its timeouts, and the calls that move it between idle and busy.
 */
export interface ConnectionOwner {
  readonly host: string;
  readonly port: number;
  /** host:port, for requests that came without a Host header. */
  readonly hostHeader: string;
  readonly tls: boolean;
  readonly options: UpstreamPoolOptions;
  connected(c: UpstreamConnection): void;
  connectFailed(c: UpstreamConnection, code: ErrorCode): void;
  /** The request on it is done and it may take another. */
  release(c: UpstreamConnection): void;
  /** It closed, for whatever reason. */
  removed(c: UpstreamConnection): void;
}

/** Interim (1xx) responses allowed before the final one; more is a backend flooding us. */
const MAX_INTERIM = 16;

const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';
const CHUNKED = 'transfer-encoding: chunked\r\n\r\n';

const enum State {
  Connecting,
  Idle,
  Busy,
  Closed,
}

type TaggedSocket = Socket & { [kConn]?: UpstreamConnection };
type TaggedParser = LlhttpParser & { [kConn]?: UpstreamConnection };
const kConn = Symbol('switchyard.upstreamConnection');

/**
 * One keep-alive connection to a backend, parsing responses with llhttp.
 * One request at a time (no pipelining). Any doubt about the framing (bytes
 * while idle, bytes after a complete response, a parse error, an early
 * close) closes it: it goes back to the pool only at a clean message
 * boundary, after the whole request was written.
 *
 * Its one deadline means, in turn: connect; nothing while the client is
 * still sending the body (the client body timeout watches that), the send
 * timeout while the backend does not take written bytes; the response-head
 * wait once the request is fully written; the body's idle time; the client
 * send timeout while paused for a client that does not read; idle time.
 */
export class UpstreamConnection implements UpstreamChannel {
  readonly socket: TaggedSocket;
  readonly pool: ConnectionOwner;
  readonly #parser: TaggedParser;
  #state = State.Connecting;
  sink: ResponseSink | null = null;
  /** Responses completed on this connection (> 0: reused, may be stale). */
  served = 0;
  /** The request (head and body) is fully written. */
  requestWritten = false;
  headReceived = false;
  /** Some byte of the response arrived (the request was not simply lost to a closing connection). */
  #answered = false;
  #keepAlive = false;
  /** How long it may stay idle after the current response (the pool's idle time, or less under the backend's Keep-Alive hint). */
  #idleMs: number;
  /** A 1xx interim response is being skipped. */
  #interim = false;
  #interimCount = 0;
  #pendingHeaders: string[] = [];
  /** Absolute time (ms) after which the connection times out (see the class comment). */
  deadline = 0;
  /**
   * A timeout to start at the pool's next sweep (-1: none). Deadlines are armed by the sweep
   * rather than with a clock read per event: they hold to the sweep's granularity anyway, and
   * the hot path reads no clock.
   */
  #armMs = -1;
  /** Body bytes arrived since the last sweep (the body's idle clock restarts). */
  #bodySeen = false;
  #timeoutCode: ErrorCode = 'SWY_UPSTREAM_CONNECT_TIMEOUT';
  /** The response's head wait, started once the request is fully written. */
  #headWaitMs = 0;
  /** Reading paused because the client does not take what was sent. */
  #pausedForClient = false;
  /** The request is to HEAD: its response has no body, whatever it says. */
  #headRequest = false;
  /** The body goes re-chunked (it is still arriving and has no declared length). */
  #sendChunked = false;
  /** The sink whose response completed in the current parse; finished once the parse returns. */
  #completed: ResponseSink | null = null;
  #completedTrailers: string[] | null = null;
  /** Bytes followed a complete response in the same read: the connection cannot be reused. */
  #trailingBytes = false;
  /** llhttp is between messages: a read may be taken by parseSimpleResponse first. */
  #parserIdle = true;

  constructor(pool: ConnectionOwner) {
    this.pool = pool;
    this.#idleMs = pool.options.idleTimeoutMs;
    this.deadline = Date.now() + pool.options.connectTimeoutMs;
    const p = createParser('response', 0) as TaggedParser;
    p[kConn] = this;
    p[kOnHeaders] = parserOnHeaders;
    p[kOnHeadersComplete] = parserOnHeadersComplete;
    p[kOnBody] = parserOnBody;
    p[kOnMessageComplete] = parserOnMessageComplete;
    this.#parser = p;
    let s: TaggedSocket;
    if (pool.tls) {
      s = tlsConnect({ host: pool.host, port: pool.port, servername: isIP(pool.host) ? undefined : pool.host, ALPNProtocols: ['http/1.1'] }).setNoDelay(
        true,
      ) as TaggedSocket;
      s.on('secureConnect', socketOnConnect);
      s.on('data', socketOnData);
    } else {
      // Bytes are read into one buffer shared by every plain backend connection and parsed
      // at once: llhttp copies body bytes out (kOnBody) and headers are strings, so nothing
      // refers to the buffer once execute() returns. This skips the Readable stream and a
      // fresh allocation per read, the largest cost of a read after the system call.
      s = connect({ host: pool.host, port: pool.port, noDelay: true, onread: SHARED_READ }) as TaggedSocket;
      s.on('connect', socketOnConnect);
    }
    s[kConn] = this;
    s.on('end', socketOnEnd);
    s.on('error', socketOnError);
    s.on('close', socketOnClose);
    s.on('drain', socketOnDrain);
    this.socket = s;
  }

  get idle(): boolean {
    return this.#state === State.Idle;
  }

  get closed(): boolean {
    return this.#state === State.Closed;
  }

  send(sink: ResponseSink, req: OutgoingRequest, length: number, parts: readonly Buffer[] | null, ended: boolean): boolean {
    this.sink = sink;
    sink.onConnected();
    this.#state = State.Busy;
    this.requestWritten = false;
    this.headReceived = false;
    this.#answered = false;
    this.#interimCount = 0;
    const o = this.pool.options;
    this.#headWaitMs = headWaitMs(o.headersTimeoutMs, req.startedAt, o.requestTimeoutMs);
    this.#timeoutCode = 'SWY_UPSTREAM_TIMEOUT';
    this.#wait(-1);
    this.#headRequest = req.method === 'HEAD';
    this.#sendChunked = length === BODY_STREAMED;
    const framing = length === BODY_NONE ? CRLF : length === BODY_STREAMED ? CHUNKED : `content-length: ${length}\r\n\r\n`;
    const text = buildRequestHead(req, this.pool.hostHeader) + framing;
    const s = this.socket;
    if (parts === null) {
      // No body, or its bytes still to come: one write, no cork (the common GET).
      s.write(text, 'latin1');
      if (ended) this.endBody();
      return true;
    }
    s.cork();
    s.write(text, 'latin1');
    let ok = true;
    for (const p of parts) ok = this.#write(p);
    if (ended) this.endBody();
    s.uncork();
    if (!ok) this.#sendBlocked();
    return ok;
  }

  writeBody(chunk: Buffer): boolean {
    if (this.#write(chunk)) return true;
    this.#sendBlocked();
    return false;
  }

  #write(chunk: Buffer): boolean {
    const s = this.socket;
    if (!this.#sendChunked) return s.write(chunk);
    s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    s.write(chunk);
    return s.write(CRLF, 'latin1');
  }

  /** No deadline (`ms` -1), or one of `ms` from the next sweep. */
  #wait(ms: number): void {
    this.deadline = Infinity;
    this.#armMs = ms;
    this.#bodySeen = false;
  }

  /** The whole request is written: the wait for the response head starts (unless it already came). */
  endBody(): void {
    if (this.#sendChunked) this.socket.write(LAST_CHUNK, 'latin1');
    this.requestWritten = true;
    if (!this.headReceived) this.#wait(this.#headWaitMs);
  }

  /** A body write was not taken at once: the backend has the send timeout to take it. */
  #sendBlocked(): void {
    if (!this.headReceived && !this.requestWritten) this.#wait(this.pool.options.sendTimeoutMs);
  }

  /** Reading stops until the client takes what it was sent (the client send timeout runs). */
  pauseForClient(): void {
    if (this.#pausedForClient || this.#state !== State.Busy) return;
    this.#pausedForClient = true;
    this.socket.pause();
    this.#wait(this.pool.options.clientSendTimeoutMs);
  }

  resumeForClient(): void {
    if (!this.#pausedForClient) return;
    this.#pausedForClient = false;
    this.#wait(this.pool.options.bodyTimeoutMs);
    this.socket.resume();
  }

  /** Back in the pool, idle (for #idleMs at most). */
  parked(): void {
    this.#state = State.Idle;
    this.#wait(this.#idleMs);
  }

  abort(): void {
    this.destroy();
  }

  /** Closes it now; a sink still attached is not told (the caller is the sink). */
  destroy(): void {
    this.sink = null;
    if (this.#state !== State.Closed) {
      this.#state = State.Closed;
      this.socket.destroy();
      this.pool.removed(this);
    }
  }

  /**
   * The pool's timer (`now`; its previous run at `lastSweep`): arms a waiting deadline, restarts
   * the body's on activity; past its deadline, a connection fails. An idle one is closed early
   * rather than late: parked some time after `lastSweep`, it counts as idle from then, and it
   * closes at the last sweep before the next could find it past its idle time. A backend that
   * closes at its Keep-Alive hint thus never has a connection of ours reused as it closes it.
   */
  checkDeadline(now: number, lastSweep: number): void {
    if (this.#state === State.Idle) {
      if (this.#armMs >= 0) {
        this.deadline = lastSweep + this.#armMs;
        this.#armMs = -1;
      }
      if (now + (now - lastSweep) >= this.deadline) this.destroy();
      return;
    }
    if (this.#armMs >= 0) {
      this.deadline = now + this.#armMs;
      this.#armMs = -1;
      this.#bodySeen = false;
      return;
    }
    if (this.#bodySeen) {
      this.#bodySeen = false;
      this.deadline = now + this.pool.options.bodyTimeoutMs;
      return;
    }
    if (now <= this.deadline || this.#state === State.Closed) return;
    if (this.#pausedForClient) {
      // The client's fault, not the backend's: the sink cuts the client and counts nothing against the backend.
      const sink = this.sink;
      this.destroy();
      sink?.onClientStalled();
    } else this.#fail(this.#timeoutCode);
  }

  #fail(code: ErrorCode): void {
    const sink = this.sink;
    if (this.#state === State.Connecting) {
      this.pool.connectFailed(this, code);
      this.destroy();
      return;
    }
    // Only a reused connection that closed without a byte of answer is the keep-alive race;
    // one that answered badly did see the request.
    const stale = !this.#answered && this.served > 0 && code === 'SWY_UPSTREAM_RESET';
    const head = this.headReceived;
    this.destroy();
    if (sink !== null) sink.onUpstreamError(code, head, stale);
  }

  // --- socket events ----------------------------------------------------------

  onConnect(): void {
    if (this.#state !== State.Connecting) return;
    this.#state = State.Idle;
    this.pool.connected(this);
  }

  onData(chunk: Buffer): void {
    const sink = this.sink;
    if (sink === null) {
      // Bytes nobody asked for: the framing can no longer be trusted.
      this.destroy();
      return;
    }
    this.#answered = true;
    if (this.#parserIdle && !this.#headRequest && this.#simpleResponse(sink, chunk)) return;
    this.#parserIdle = false;
    sink.cork();
    const p = this.#parser;
    const r = p.execute(chunk);
    // A clean boundary: no error, no message after the response, not even the start of one
    // (llhttp forgets that a head was complete as soon as the next message begins).
    if (this.#completed !== null) this.#finishResponse(!isParseError(r) && !this.#trailingBytes && p.headersCompleted());
    else if (isParseError(r)) this.#fail('SWY_UPSTREAM_PROTOCOL');
    sink.uncork();
  }

  /** A whole simple response in this read, read without llhttp (../http1/simple-message.ts); false: llhttp's turn. */
  #simpleResponse(sink: ResponseSink, chunk: Buffer): boolean {
    const r = parseSimpleResponse(chunk);
    if (r === null) return false;
    sink.cork();
    this.onHeadersComplete(r.headers, r.status, r.statusText, false, r.keepAlive);
    // A copy: the chunk may be the shared read buffer (as llhttp's body callback copies).
    if (r.bodyStart < chunk.length) this.onBody(Buffer.from(chunk.subarray(r.bodyStart)));
    this.onMessageComplete();
    if (this.#completed !== null) this.#finishResponse(true);
    sink.uncork();
    return true;
  }

  onEnd(): void {
    if (this.#state === State.Busy && this.headReceived) {
      // A body delimited by the close ends here; anything else is cut short.
      const sink = this.sink;
      if (sink !== null) sink.cork();
      const r = this.#parser.finish();
      if (this.#completed !== null) this.#finishResponse(false);
      else if (isParseError(r) || this.sink !== null) this.#fail('SWY_UPSTREAM_RESET');
      if (sink !== null) sink.uncork();
      return;
    }
    this.#fail('SWY_UPSTREAM_RESET');
  }

  onError(err: Error): void {
    this.#fail(classifyUpstreamError(err));
  }

  onClose(): void {
    if (this.#state !== State.Closed) this.#fail('SWY_UPSTREAM_RESET');
    this.#parser.close();
  }

  onDrain(): void {
    const sink = this.sink;
    if (sink === null) return;
    // The backend took what it was sent: until the client sends more, no clock runs against the backend.
    if (!this.requestWritten && !this.headReceived) this.deadline = Infinity;
    sink.onUpstreamDrain();
  }

  // --- parser events ----------------------------------------------------------

  onHeaders(headers: string[]): void {
    for (let i = 0; i < headers.length; i++) this.#pendingHeaders.push(headers[i]!);
  }

  onHeadersComplete(headers: string[] | undefined, status: number, statusText: string, upgrade: boolean, keepAlive: boolean): number {
    if (headers === undefined) {
      headers = this.#pendingHeaders;
      this.#pendingHeaders = [];
    }
    const sink = this.sink;
    if (sink === null) {
      // A whole message after a complete response in the same read: not a clean boundary.
      if (this.#completed !== null) this.#trailingBytes = true;
      return HEAD_CONTINUE;
    }
    if (status < 200) {
      if (status === 101 || upgrade || ++this.#interimCount > MAX_INTERIM) {
        this.#fail('SWY_UPSTREAM_PROTOCOL');
        return HEAD_CONTINUE;
      }
      // 1xx interim responses (103 Early Hints, a stray 100) are dropped, as the undici engine does.
      this.#interim = true;
      return HEAD_CONTINUE;
    }
    this.headReceived = true;
    this.#idleMs = idleTimeAfter(this.pool.options.idleTimeoutMs, keepAliveHintIn(headers));
    this.#keepAlive = keepAlive && this.#idleMs > 0;
    this.#timeoutCode = 'SWY_UPSTREAM_TIMEOUT';
    if (!this.#pausedForClient) this.#wait(this.pool.options.bodyTimeoutMs);
    sink.onResponseHead(status, statusText, headers);
    return this.#headRequest ? HEAD_SKIP_BODY : HEAD_CONTINUE;
  }

  onBody(chunk: Buffer): void {
    const sink = this.sink;
    if (sink === null) return;
    if (!this.#pausedForClient) this.#bodySeen = true;
    sink.onResponseBody(chunk);
  }

  onMessageComplete(): void {
    if (this.#interim) {
      this.#interim = false;
      return;
    }
    const sink = this.sink;
    if (sink === null) return;
    let trailers: string[] | null = null;
    if (this.#pendingHeaders.length > 0) {
      trailers = this.#pendingHeaders;
      this.#pendingHeaders = [];
    }
    // Finished once this read is parsed (#finishResponse): only then is it known whether
    // more bytes followed the response, which would make reuse unsafe. Until then a new
    // message's start is watched for (only then: a callback per response would cost).
    this.sink = null;
    this.#completed = sink;
    this.#completedTrailers = trailers;
  }

  /** The response is complete: back to the pool at a clean boundary, else closed; then the sink hears of it. */
  #finishResponse(clean: boolean): void {
    const sink = this.#completed!;
    const trailers = this.#completedTrailers;
    this.#completed = null;
    this.#completedTrailers = null;
    this.#trailingBytes = false;
    // A clean end leaves llhttp between messages (or it never saw this one).
    this.#parserIdle = clean;
    this.served++;
    this.#pausedForClient = false;
    if (this.socket.isPaused()) this.socket.resume();
    if (clean && this.#keepAlive && this.requestWritten && this.#state === State.Busy) this.pool.release(this);
    else this.destroy();
    sink.onResponseComplete(trailers);
  }
}

function socketOnConnect(this: TaggedSocket): void {
  this[kConn]!.onConnect();
}
function socketOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kConn]!.onData(chunk);
}

const readBuffer = Buffer.allocUnsafe(64 * 1024);
/** `onread` of plain connections: called with `this` = the socket, the bytes in readBuffer[0, n). */
function socketOnRead(this: TaggedSocket, n: number): boolean {
  this[kConn]?.onData(readBuffer.subarray(0, n));
  return true;
}
const SHARED_READ = { buffer: readBuffer, callback: socketOnRead };
function socketOnEnd(this: TaggedSocket): void {
  this[kConn]!.onEnd();
}
function socketOnError(this: TaggedSocket, err: Error): void {
  this[kConn]!.onError(err);
}
function socketOnClose(this: TaggedSocket): void {
  this[kConn]!.onClose();
}
function socketOnDrain(this: TaggedSocket): void {
  this[kConn]!.onDrain();
}

function parserOnHeaders(this: TaggedParser, headers: string[]): void {
  this[kConn]!.onHeaders(headers);
}
function parserOnHeadersComplete(
  this: TaggedParser,
  _major: number,
  _minor: number,
  headers: string[] | undefined,
  _method: number,
  _url: string,
  status: number,
  statusText: string,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  return this[kConn]!.onHeadersComplete(headers, status, statusText, upgrade, keepAlive);
}
function parserOnBody(this: TaggedParser, chunk: Buffer): void {
  this[kConn]!.onBody(chunk);
}
function parserOnMessageComplete(this: TaggedParser): void {
  this[kConn]!.onMessageComplete();
}
