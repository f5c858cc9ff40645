import type { ErrorCode } from '../../../common/errors.js';
import type { Upstream } from '../../upstream.js';

/** The request as every attempt sends it: the policy's verdict and the exchange's facts. */
export interface OutgoingRequest {
  readonly method: string;
  /** Path and query as they go upstream. */
  readonly path: string;
  /** The Host to send; '' when the client sent none (HTTP/1.0): each attempt names the backend's. */
  readonly host: string;
  /** The forwarded fields, name and value pairs, without Host and framing. */
  readonly headers: readonly string[];
  /** performance.now() when the request arrived (its --request-timeout runs from here). */
  readonly startedAt: number;
}

/** Body length of an attempt: a byte count, or one of these. */
export const BODY_NONE = -2;
/** The body is still arriving and has no declared length: the transport frames it (chunked). */
export const BODY_STREAMED = -1;

/**
 * One backend connection, given to one attempt at a time: the attempt sends
 * its request on it and hears of the response through its ResponseSink.
 */
export interface UpstreamChannel {
  /**
   * Sends the request: its head with a body of `length` bytes (or BODY_NONE,
   * BODY_STREAMED), then `parts` (body bytes already received), and its end
   * when `ended`. False: the backend did not take it all yet (onUpstreamDrain follows).
   */
  send(sink: ResponseSink, req: OutgoingRequest, length: number, parts: readonly Buffer[] | null, ended: boolean): boolean;
  /** More body bytes; false: the backend did not take them yet (onUpstreamDrain follows). */
  writeBody(chunk: Buffer): boolean;
  /** The body is complete: the wait for the response head starts. */
  endBody(): void;
  /** The client does not take the response: stop reading the backend (the client send timeout runs). */
  pauseForClient(): void;
  resumeForClient(): void;
  /** Closes the connection now; the sink hears nothing more. */
  abort(): void;
}

/** What receives one response: the exchange that sent the request. */
export interface ResponseSink {
  /** The request is going out on a backend connection now (its wait for one ends). */
  onConnected(): void;
  /** The head arrived. May abort the channel (a status to retry elsewhere). */
  onResponseHead(status: number, statusText: string, headers: string[]): void;
  onResponseBody(chunk: Buffer): void;
  /** The whole response arrived; the channel is already back in its pool or closed. */
  onResponseComplete(trailers: string[] | null): void;
  /**
   * The channel failed. `headReceived`: part of the response had arrived.
   * `stale`: a reused keep-alive connection failed before any response byte,
   * the classic race with a backend closing it (the request may go again on a new connection).
   */
  onUpstreamError(code: ErrorCode, headReceived: boolean, stale: boolean): void;
  /** The backend took all written bytes: resume reading the client's body. */
  onUpstreamDrain(): void;
  /** The client left response bytes unread past the client send timeout: the channel is being closed. */
  onClientStalled(): void;
  /** Around the delivery of one backend read. */
  cork(): void;
  uncork(): void;
}

/** An attempt waiting for a channel. */
export interface ChannelWaiter {
  /** False once the request no longer needs one (client gone): the transport skips it. */
  readonly wantsConnection: boolean;
  /** When the request's overall deadline (--request-timeout) passes, in `performance.now()` time; Infinity when it has none. */
  readonly deadlineAt: number;
  onConnection(channel: UpstreamChannel): void;
  onConnectFailed(code: ErrorCode): void;
  /**
   * The transport gave the attempt up before the backend saw any of it, for
   * a reason not the backend's (it refused the request itself, or the
   * deadline passed while it waited behind the pool's busy connections):
   * the client gets `code`, nothing is blamed, nothing retried.
   */
  onNotSent(code: ErrorCode): void;
}

/** How attempts reach backends: the part of an engine the exchange talks to. */
export interface UpstreamTransport {
  /** Gets `w` a channel to `up`, now or later; `fresh` skips reused connections (after a stale one). */
  acquire(up: Upstream, w: ChannelWaiter, fresh: boolean): void;
}
