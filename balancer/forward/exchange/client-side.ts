import type { ErrorCode } from '../../../common/errors.js';

/** What the client side reads of the exchange it answers. */
export interface Answering {
  readonly method: string;
  readonly requestId: string;
  /** The client spoke HTTP/1.0 (a body without Content-Length then ends at the close). */
  readonly http10: boolean;
  /** X-LB-Decision so far; null when the request did not ask for it. */
  readonly decision: string | null;
  /** The connection closes after this response; the client side may set it (a body framed by the close). */
  closeAfter: boolean;
}

/**
 * The client's end of an exchange (exchange.ts): where the request came from
 * and where its answer goes, in whatever protocol the listener speaks. The
 * llhttp listener (http1/client-connection.ts) and http.Server's (server-client.ts) implement it; the exchange
 * never writes protocol bytes itself.
 */
export interface ClientSide<X extends Answering = Answering> {
  readonly clientIp: string;
  /** The exchange's response is complete (or it gave up): the connection moves on. */
  exchangeDone(x: X): void;
  /** Stop / go on reading the client (its body waits for the backend). */
  pauseForBody(): void;
  resumeForBody(): void;
  /** Cut the connection (a response that cannot be completed). */
  cut(): void;
  /** Parse nothing more from the client: the connection closes after the responses already due. */
  readNoMore(): void;
  /** 100 Continue: the client may send its body. */
  sendContinue(): void;
  /**
   * The response head: the backend's status and fields (kept by the response
   * policy here), then `extra` (name, value pairs the balancer adds).
   */
  sendHead(x: X, status: number, statusText: string, headers: readonly string[], extra: readonly string[]): void;
  /** Response body bytes; false once the client holds more unread than it should (the backend should wait). */
  sendBody(chunk: Buffer): boolean;
  /** The response is complete; `trailers` as the response policy kept them, or null. */
  endResponse(trailers: readonly string[] | null): void;
  /** The catalogue's error answer for `code`. */
  sendError(x: X, code: ErrorCode, retryAfterSeconds: number | undefined, headers?: readonly string[]): void;
  /** Writes until uncork() go out together (a backend read parsed at once). */
  cork(): void;
  uncork(): void;
}
