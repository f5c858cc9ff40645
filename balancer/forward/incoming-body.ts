import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { ErrorCode } from '../../common/errors.js';
import type { BufferBudget } from './buffer-budget.js';
import type { RequestLimits } from './request-limits.js';
import { BodyFraming, type PolicyVerdict } from './request-policy.js';

/** What an IncomingBody tells the request it belongs to. */
export interface BodyEvents {
  /** The body is in (buffered in full), or streaming has begun: the request may go on. */
  bodyReady(): void;
  /** The client broke its request (408 body stalled, 413 too large): nothing is the backend's fault. */
  clientFault(code: ErrorCode): void;
  /** The backend took no body bytes for the send timeout (its fault: 504). */
  sendTimedOut(): void;
}

/**
 * The request body of a request Node's http.Server parsed (the undici and
 * http-proxy engines), under the same rules as the raw engine's:
 * - a body up to --request-buffer is received in full before the request
 *   goes on (and is sent with its exact Content-Length); a chunked body that
 *   grows past it, or finds the buffer budget full, streams from there;
 * - a chunked body past --max-body-size is the client's fault (413);
 * - a body that stalls for --client-body-timeout is the client's fault
 *   (408), unless it is us not reading it because the backend does not take
 *   it, which is the backend's fault after the send timeout.
 */
export class IncomingBody {
  readonly #req: IncomingMessage;
  readonly #limits: RequestLimits;
  readonly #budget: BufferBudget;
  readonly #sendTimeoutMs: number;
  /** Who hears of the body: the request while it waits, then the engine's exchange. */
  events: BodyEvents;
  readonly framing: BodyFraming;
  /** Content-Length the client declared, -1 when none. */
  readonly declaredLength: number;
  #parts: Buffer[] | null = null;
  #received = 0;
  #reserved = 0;
  #buffering = false;
  #ready = false;
  /** The whole body arrived. */
  complete: boolean;
  /** The body in full, once buffered (null: none, or it streams). */
  buffer: Buffer | null = null;
  #stream: Readable | null = null;
  #backpressureSince = 0;
  #closed = false;
  readonly #onData = (chunk: Buffer): void => this.#data(chunk);
  readonly #onEnd = (): void => this.#end();
  readonly #onTimeout = (): void => this.#timeout();

  constructor(req: IncomingMessage, v: PolicyVerdict, limits: RequestLimits, budget: BufferBudget, sendTimeoutMs: number, events: BodyEvents) {
    this.#req = req;
    this.#limits = limits;
    this.#budget = budget;
    this.#sendTimeoutMs = sendTimeoutMs;
    this.events = events;
    this.framing = v.body;
    this.declaredLength = v.length;
    this.complete = v.body === BodyFraming.None || v.length === 0;
  }

  /** True when the body goes upstream as a stream (its end not received yet). */
  get streaming(): boolean {
    return this.#stream !== null;
  }

  /** The stream to forward in streaming mode: what was read so far, then the rest. */
  get stream(): Readable | null {
    return this.#stream;
  }

  /** Starts reading; `bodyReady()` follows (at once when there is nothing to wait for). */
  start(): void {
    const req = this.#req;
    if (this.complete) {
      this.#becomeReady();
      return;
    }
    req.setTimeout(this.#limits.clientBodyTimeoutMs, this.#onTimeout);
    req.once('end', this.#onEnd);
    const fits = this.framing === BodyFraming.Chunked || (this.declaredLength <= this.#limits.requestBuffer && this.#reserve(this.declaredLength));
    if (!fits) {
      this.#streamFrom([]);
      return;
    }
    this.#buffering = true;
    this.#parts = [];
    req.on('data', this.#onData);
  }

  #reserve(n: number): boolean {
    if (!this.#budget.reserve(n)) return false;
    this.#reserved += n;
    return true;
  }

  #data(chunk: Buffer): void {
    this.#received += chunk.length;
    const max = this.#limits.maxBodySize;
    if (max > 0 && this.#received > max) {
      this.#fault('SWY_BODY_TOO_LARGE');
      return;
    }
    if (!this.#buffering) return;
    this.#parts!.push(chunk);
    if (this.framing === BodyFraming.Chunked && (this.#received > this.#limits.requestBuffer || !this.#reserve(chunk.length))) {
      const prefix = this.#parts!;
      this.#parts = null;
      this.#buffering = false;
      this.#streamFrom(prefix);
    }
  }

  /** Streaming from here: `prefix` (already read) first, then the rest of the request. */
  #streamFrom(prefix: Buffer[]): void {
    const req = this.#req;
    req.removeListener('data', this.#onData);
    if (prefix.length === 0) this.#stream = req;
    else {
      // Only a chunked body streams after a prefix; its size is counted on the way (a declared one was checked).
      const pt = new PassThrough();
      for (const p of prefix) pt.write(p);
      req.pipe(pt);
      if (this.#limits.maxBodySize > 0) req.on('data', this.#onData);
      this.#stream = pt;
    }
    this.#becomeReady();
  }

  #end(): void {
    this.complete = true;
    this.#req.setTimeout(0);
    this.#req.removeListener('timeout', this.#onTimeout);
    if (this.#buffering) {
      this.#buffering = false;
      this.buffer = Buffer.concat(this.#parts!);
      this.#parts = null;
      this.#req.removeListener('data', this.#onData);
      this.#becomeReady();
    }
  }

  #becomeReady(): void {
    if (this.#ready || this.#closed) return;
    this.#ready = true;
    this.events.bodyReady();
  }

  /** The client socket was idle for the client body timeout. */
  #timeout(): void {
    if (this.complete || this.#closed) return;
    const req = this.#req;
    const stream = this.#stream;
    // Bytes we hold but the backend has not taken: we stopped reading the client, not the other way round.
    const waitingForBackend = req.readableLength > 0 || (stream !== null && stream !== req && stream.readableLength > 0);
    if (!waitingForBackend) {
      this.#fault('SWY_BODY_TIMEOUT');
      return;
    }
    const now = Date.now();
    if (this.#backpressureSince === 0) this.#backpressureSince = now - this.#limits.clientBodyTimeoutMs;
    if (now - this.#backpressureSince >= this.#sendTimeoutMs) {
      this.close();
      this.events.sendTimedOut();
      return;
    }
    req.socket?.setTimeout(this.#limits.clientBodyTimeoutMs);
  }

  #fault(code: ErrorCode): void {
    this.close();
    this.events.clientFault(code);
  }

  /** Stops watching the body and gives its buffer budget back. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const req = this.#req;
    req.removeListener('data', this.#onData);
    req.removeListener('end', this.#onEnd);
    req.removeListener('timeout', this.#onTimeout);
    if (!this.complete) req.socket?.setTimeout(0);
    if (this.#reserved > 0) {
      this.#budget.release(this.#reserved);
      this.#reserved = 0;
    }
    this.#parts = null;
  }
}
