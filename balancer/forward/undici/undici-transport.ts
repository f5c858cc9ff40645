import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { classifyUpstreamError, type ErrorCode } from '../../../common/errors.js';
import type { Upstream } from '../../upstream.js';
import { BODY_NONE, BODY_STREAMED, type ChannelWaiter, type OutgoingRequest, type ResponseSink, type UpstreamChannel } from '../exchange/upstream-transport.js';
import type { EngineTransport, PoolOptions } from '../forwarder.js';
import { deadlineLeft, headWaitMs } from '../retry-policy.js';
import { UndiciPools } from './undici-pools.js';

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

/** Interim (1xx) responses allowed before the final one; more is a backend flooding us. */
const MAX_INTERIM = 16;

/** What the channel's own abort passes undici: its error is ours, not the backend's, and nobody hears of it. */
const ABORTED = Object.assign(new Error('attempt ended by the balancer'), { code: 'SWY_ABORTED' });

export interface UndiciTransportOptions extends PoolOptions {
  /** --request-timeout (0: none). */
  readonly requestTimeoutMs: number;
  /** Longest a client may leave response bytes unread before it is cut. */
  readonly clientSendTimeoutMs: number;
}

/**
 * The undici engine's way to backends: one undici Pool per backend
 * (undici-pools.ts), each attempt a dispatch() with its own handler (the
 * channel).
 */
export class UndiciTransport implements EngineTransport {
  readonly pools: UndiciPools;
  readonly options: UndiciTransportOptions;

  constructor(options: UndiciTransportOptions) {
    this.options = options;
    this.pools = new UndiciPools(options);
  }

  acquire(up: Upstream, w: ChannelWaiter, fresh: boolean): void {
    if (fresh) {
      // After a stale connection: undici picks connections itself, and until its error handling is
      // over the pool may still hand out the closing one; from the next turn of the loop it will not.
      setImmediate(retryFresh, this, up, w);
      return;
    }
    // The channel is the attempt (undici connects when it sends).
    w.onConnection(new UndiciChannel(this, up, w));
  }

  forget(up: Upstream): void {
    this.pools.forget(up);
  }

  close(): Promise<void> {
    return this.pools.close();
  }

  destroy(): Promise<void> {
    return this.pools.destroy();
  }

  /** Whether every connection `up`'s pool may open is open (a request not yet connected waits only for a busy one). */
  poolFull(up: Upstream): boolean {
    return this.pools.connected(up) >= this.options.connections;
  }
}

function retryFresh(t: UndiciTransport, up: Upstream, w: ChannelWaiter): void {
  if (w.wantsConnection) t.acquire(up, w, false);
}

/** Ends the cork taken when a response head arrived (see onHeaders). */
function uncorkSink(sink: ResponseSink): void {
  sink.uncork();
}

function onDeadline(c: UndiciChannel): void {
  c.deadlinePassed();
}

function onClientStalled(c: UndiciChannel): void {
  c.clientStalled();
}

function onSendStalled(c: UndiciChannel): void {
  c.sendStalled();
}

/** The body of an upload still arriving: written by the exchange, read by undici. */
class UploadBody extends Readable {
  readonly #channel: UndiciChannel;

  constructor(channel: UndiciChannel) {
    super();
    this.#channel = channel;
  }

  override _read(): void {
    this.#channel.bodyDrained();
  }
}

/**
 * One attempt sent through undici: the exchange's channel and undici's
 * dispatch handler. Its timers: the response head by the request's deadline
 * (undici's own head timeout ticks coarsely, every half second, so a retry
 * left 400 ms could wait 900), the backend taking the body (send timeout),
 * and the client taking the response (client send timeout).
 */
class UndiciChannel implements UpstreamChannel, Dispatcher.DispatchHandler {
  readonly #transport: UndiciTransport;
  readonly #up: Upstream;
  readonly #waiter: ChannelWaiter;
  #sink: ResponseSink | null = null;
  #abortUndici: ((err?: Error) => void) | null = null;
  #body: UploadBody | null = null;
  #timer: NodeJS.Timeout | null = null;
  #resume: (() => void) | null = null;
  #paused = false;
  #headReceived = false;
  /** A byte of the response arrived (an interim one counts): the backend saw the request. */
  #answered = false;
  #interim = 0;
  /** Ended: by the balancer (abort), or by the response or its failure. Nothing more reaches the sink. */
  #ended = false;
  #startedAt = 0;
  #headRequest = false;
  /** A response without a body (HEAD, 204, 304), delivered once undici saw it end cleanly (see onHeaders). */
  #pendingHead: { status: number; text: string; headers: string[] } | null = null;

  constructor(transport: UndiciTransport, up: Upstream, waiter: ChannelWaiter) {
    this.#transport = transport;
    this.#up = up;
    this.#waiter = waiter;
  }

  send(sink: ResponseSink, req: OutgoingRequest, length: number, parts: readonly Buffer[] | null, ended: boolean): boolean {
    this.#sink = sink;
    this.#startedAt = req.startedAt;
    this.#headRequest = req.method === 'HEAD';
    const o = this.#transport.options;
    const headers: string[] = ['host', req.host === '' ? new URL(this.#up.url).host : req.host];
    const fields = req.headers;
    for (let i = 0; i < fields.length; i++) headers.push(fields[i]!);
    let body: Buffer | Readable | null = null;
    let ok = true;
    // undici's own head timeout only when the attempt's limit comes before the deadline; a
    // streamed body's head wait starts once it is all sent (onRequestSent).
    let headersTimeout = 0;
    if (ended) {
      if (length !== BODY_NONE && parts !== null) body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      const left = deadlineLeft(req.startedAt, o.requestTimeoutMs);
      if (left !== Infinity) this.#arm(onDeadline, left);
      if (left > o.headersTimeoutMs) headersTimeout = o.headersTimeoutMs;
    } else {
      // A streamed body keeps the client's length framing when it had one; undici chunks it otherwise.
      if (length !== BODY_STREAMED) headers.push('content-length', String(length));
      const stream = new UploadBody(this);
      if (parts !== null) for (const p of parts) ok = stream.push(p);
      this.#body = stream;
      body = stream;
    }
    this.#transport.pools.get(this.#up).dispatch({ path: req.path, method: req.method as Dispatcher.HttpMethod, headers, body, headersTimeout }, this);
    if (!ok) this.#sendBlocked();
    return ok;
  }

  writeBody(chunk: Buffer): boolean {
    const body = this.#body;
    if (body === null || this.#ended) return true;
    if (body.push(chunk)) return true;
    this.#sendBlocked();
    return false;
  }

  endBody(): void {
    this.#body?.push(null);
  }

  /** undici reads the upload again: the backend takes what it is sent. */
  bodyDrained(): void {
    if (this.#timer !== null && !this.#headReceived && !this.#paused) this.#disarm();
    this.#sink?.onUpstreamDrain();
  }

  /** The backend did not take the body bytes written: it has the send timeout to do so. */
  #sendBlocked(): void {
    if (!this.#headReceived && this.#timer === null) this.#arm(onSendStalled, this.#transport.options.bodyTimeoutMs);
  }

  sendStalled(): void {
    this.#timer = null;
    this.#failWith('SWY_UPSTREAM_TIMEOUT');
  }

  pauseForClient(): void {
    if (this.#paused || this.#ended) return;
    this.#paused = true;
    this.#disarm();
    this.#arm(onClientStalled, this.#transport.options.clientSendTimeoutMs);
  }

  resumeForClient(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#disarm();
    const resume = this.#resume;
    if (resume !== null && !this.#ended) resume();
  }

  /** The client left the response unread past the client send timeout: closed, and the sink told (the backend is not blamed). */
  clientStalled(): void {
    this.#timer = null;
    const sink = this.#sink;
    this.abort();
    sink?.onClientStalled();
  }

  abort(): void {
    if (this.#ended) return;
    this.#end();
    this.#abortUndici?.(ABORTED);
    // Not connected yet: onConnect ends it when the pool gets to it.
  }

  /** The request's deadline passed before the response head. */
  deadlinePassed(): void {
    this.#timer = null;
    if (this.#ended) return;
    if (this.#abortUndici === null && this.#transport.poolFull(this.#up)) {
      // It waited only behind the pool's busy connections: the backend never saw it and is not blamed.
      const w = this.#waiter;
      this.#end();
      w.onNotSent('SWY_UPSTREAM_TIMEOUT');
      return;
    }
    this.#failWith('SWY_UPSTREAM_TIMEOUT');
  }

  #arm(fn: (c: UndiciChannel) => void, ms: number): void {
    this.#timer = setTimeout(fn, Math.max(1, Math.ceil(ms)), this);
  }

  #disarm(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #end(): void {
    this.#ended = true;
    this.#sink = null;
    this.#pendingHead = null;
    this.#disarm();
    this.#resume = null;
  }

  /** The attempt failed here (a timeout of ours): undici's request is aborted and the sink told. */
  #failWith(code: ErrorCode): void {
    if (this.#ended) return;
    const connected = this.#abortUndici !== null;
    const sink = this.#sink;
    const head = this.#headReceived && this.#pendingHead === null;
    const w = this.#waiter;
    this.abort();
    if (!connected) w.onConnectFailed(code);
    else sink?.onUpstreamError(code, head, false);
  }

  // --- undici's handler ---------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    if (this.#ended) {
      abort(ABORTED);
      return;
    }
    this.#abortUndici = abort;
    this.#sink?.onConnected();
  }

  onRequestSent(): void {
    // A streamed body waited for its client: the head wait starts now that it is all sent.
    if (this.#body === null || this.#headReceived || this.#ended) return;
    this.#disarm();
    const o = this.#transport.options;
    this.#arm(onDeadline, headWaitMs(o.headersTimeoutMs, this.#startedAt, o.requestTimeoutMs));
  }

  /** undici's parser saw the first byte of a response message. */
  onResponseStarted(): void {
    this.#answered = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    const sink = this.#sink;
    if (sink === null) return false;
    if (statusCode < 200) {
      // Interim responses (103 Early Hints, a stray 100) are dropped, as the raw engine does; a flood of them is the backend's fault.
      if (++this.#interim > MAX_INTERIM) this.#failWith('SWY_UPSTREAM_PROTOCOL');
      return !this.#ended;
    }
    this.#headReceived = true;
    if (!this.#paused) this.#disarm();
    this.#resume = resume;
    const headers = new Array<string>(rawHeaders.length);
    for (let i = 0; i < rawHeaders.length; i++) headers[i] = rawHeaders[i]!.toString('latin1');
    if (statusCode === 204 || statusCode === 304 || this.#headRequest) {
      // No body follows: the head goes on once undici saw the response end cleanly, so that a
      // backend breaking the framing here (a 204 with body bytes) still gets the client a clean 502.
      this.#pendingHead = { status: statusCode, text: statusText, headers };
      return true;
    }
    // undici parses a whole backend read in one call: what it delivers from this read (the head,
    // the body, often the end) goes to the client in one write, uncorked once the read is handled.
    sink.cork();
    process.nextTick(uncorkSink, sink);
    sink.onResponseHead(statusCode, statusText, headers);
    // The sink may have aborted it (a status to retry elsewhere), or the client may not take more.
    return !this.#ended && !this.#paused;
  }

  onData(chunk: Buffer): boolean {
    const sink = this.#sink;
    if (sink === null) return false;
    sink.onResponseBody(chunk);
    return !this.#ended && !this.#paused;
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    const sink = this.#sink;
    if (sink === null) return;
    const pending = this.#pendingHead;
    if (pending !== null) {
      this.#pendingHead = null;
      sink.onResponseHead(pending.status, pending.text, pending.headers);
      if (this.#ended) return;
    }
    this.#end();
    let t: string[] | null = null;
    if (trailers !== null && trailers.length > 0) {
      t = new Array<string>(trailers.length);
      for (let i = 0; i < trailers.length; i++) t[i] = String(trailers[i]);
    }
    sink.onResponseComplete(t);
  }

  onError(err: Error): void {
    if (this.#ended) return;
    const sink = this.#sink;
    // A head held back (no body) never reached the client: the client may still get a clean error.
    const head = this.#headReceived && this.#pendingHead === null;
    const connected = this.#abortUndici !== null;
    const w = this.#waiter;
    this.#end();
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && LOCAL_ERRORS.has(code)) {
      // Found by undici before any byte left (a request it will not send): not the backend's doing.
      w.onNotSent('SWY_BAD_REQUEST');
      return;
    }
    const reason = classifyUpstreamError(err);
    if (!connected) {
      w.onConnectFailed(reason);
      return;
    }
    // A reused keep-alive connection (it had read earlier responses) closed without a byte of this
    // one: the race with a backend closing it.
    const socket = (err as { socket?: { bytesRead?: number } }).socket;
    const stale = !this.#answered && code === 'UND_ERR_SOCKET' && (socket?.bytesRead ?? 0) > 0;
    sink?.onUpstreamError(reason, head, stale);
  }
}
