import { createRequire } from 'node:module';

/**
 * Node's own llhttp binding, the parser `http.Server` and `http.ClientRequest`
 * use (`node:_http_common`). Undocumented but stable since Node 12; this file
 * is the only place that touches it, so a change in a future Node shows up
 * here (and in tests/integration/engine-conformance.test.ts) first. One did:
 * Node 22 dropped the parser's native headersCompleted() (Node 20 had it);
 * the subclass below provides what the engine used it for.
 *
 * Callbacks are plain properties on the parser, called with `this` = parser:
 * - kOnHeaders(headers, url): header pairs flushed before the head is complete
 *   (more than 32 pairs) and trailers after a chunked body;
 * - kOnHeadersComplete(major, minor, headers | undefined, method, url, status,
 *   statusText, upgrade, shouldKeepAlive): return 0 to go on, 1 for "no body"
 *   (a response to HEAD), 2 to stop after the head as for an upgrade
 *   (execute() then returns the head's length);
 * - kOnBody(chunk): a copy of body bytes, chunked framing removed;
 * - kOnMessageComplete(); kOnMessageBegin().
 * The binding reads each callback property when the event happens, so a
 * callback can be set or removed at any time (also from inside another one).
 * execute(buf) returns the bytes parsed or an Error with `code` (HPE_*).
 */
export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParseError;
  finish(): ParseError | undefined;
  close(): void;
  /**
   * Right after execute(): true when a message completed during that call and no next
   * message began after it (a clean boundary: nothing but the message was parsed after
   * its start, not even the start of another). Kept by this module, see TrackingParser.
   */
  headersCompleted(): boolean;
  [key: number]: unknown;
}

export interface ParseError extends Error {
  readonly code: string;
  readonly reason?: string;
  readonly bytesParsed?: number;
}

interface ParserClass {
  new (): LlhttpParser;
  readonly REQUEST: number;
  readonly RESPONSE: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kLenientNone: number;
}

const common = createRequire(import.meta.url)('node:_http_common') as { HTTPParser?: ParserClass; methods?: readonly string[] };
const usable =
  typeof common.HTTPParser === 'function' &&
  Array.isArray(common.methods) &&
  typeof common.HTTPParser.kOnHeadersComplete === 'number' &&
  typeof common.HTTPParser.kOnMessageBegin === 'number' &&
  typeof common.HTTPParser.kOnMessageComplete === 'number' &&
  typeof (common.HTTPParser.prototype as { execute?: unknown }).execute === 'function';

/** Why llhttp cannot be used on this Node.js (neither the llhttp listener nor the raw engine can run), or undefined when it can. */
export function llhttpUnsupported(): string | undefined {
  return usable ? undefined : `this Node.js (${process.version}) has no usable node:_http_common HTTPParser`;
}

/** Whether a message completed during the current execute() with nothing begun after it. */
const kCompleted = Symbol('completedInExecute');
const kUserOnMessageComplete = Symbol('onMessageComplete');
const kUserOnMessageBegin = Symbol('onMessageBegin');

interface TrackedState {
  [kCompleted]: boolean;
  [kUserOnMessageComplete]: (() => void) | undefined;
  [kUserOnMessageBegin]: (() => void) | undefined;
}

/**
 * The binding's parser plus headersCompleted(), kept in JavaScript at the cost of two
 * property reads through accessors per message: the binding reads kOnMessageComplete
 * through one that marks the completion before calling the callback set on the parser,
 * and kOnMessageBegin through one that offers a callback only after a completion in the
 * same execute() (so a message begins without a call into JavaScript, except one pipelined
 * behind a complete one, which clears the mark).
 */
function trackingParser(Native: ParserClass): ParserClass {
  const kComplete = Native.kOnMessageComplete;
  const kBegin = Native.kOnMessageBegin;
  function onMessageComplete(this: LlhttpParser & TrackedState): void {
    this[kCompleted] = true;
    const user = this[kUserOnMessageComplete];
    if (user !== undefined) user.call(this);
  }
  function onNextMessageBegin(this: LlhttpParser & TrackedState): void {
    this[kCompleted] = false;
    const user = this[kUserOnMessageBegin];
    if (user !== undefined) user.call(this);
  }
  class TrackingParser extends Native {
    override execute(data: Buffer): number | ParseError {
      (this as unknown as TrackedState)[kCompleted] = false;
      return super.execute(data);
    }
    override headersCompleted(): boolean {
      return (this as unknown as TrackedState)[kCompleted] === true;
    }
  }
  Object.defineProperty(TrackingParser.prototype, kComplete, {
    get(this: TrackedState) {
      return onMessageComplete;
    },
    set(this: TrackedState, fn: (() => void) | undefined) {
      this[kUserOnMessageComplete] = fn;
    },
  });
  Object.defineProperty(TrackingParser.prototype, kBegin, {
    get(this: TrackedState) {
      return this[kCompleted] === true ? onNextMessageBegin : this[kUserOnMessageBegin];
    },
    set(this: TrackedState, fn: (() => void) | undefined) {
      this[kUserOnMessageBegin] = fn;
    },
  });
  return TrackingParser as unknown as ParserClass;
}

export const HTTPParser: ParserClass = usable ? trackingParser(common.HTTPParser!) : ({} as ParserClass);
/** Method names by llhttp's method index (the `method` argument of kOnHeadersComplete). */
export const METHODS: readonly string[] = common.methods ?? [];

export const kOnMessageBegin = HTTPParser.kOnMessageBegin;
export const kOnHeaders = HTTPParser.kOnHeaders;
export const kOnHeadersComplete = HTTPParser.kOnHeadersComplete;
export const kOnBody = HTTPParser.kOnBody;
export const kOnMessageComplete = HTTPParser.kOnMessageComplete;

/** Return values of kOnHeadersComplete. */
export const HEAD_CONTINUE = 0;
export const HEAD_SKIP_BODY = 1;
export const HEAD_STOP = 2;

const RESOURCE = Object.freeze({});

/** A strict parser (no lenient flags: request smuggling shapes are errors). `maxHeaderSize` 0 = Node's default. */
export function createParser(kind: 'request' | 'response', maxHeaderSize: number): LlhttpParser {
  const p = new HTTPParser();
  p.initialize(kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, RESOURCE, maxHeaderSize, HTTPParser.kLenientNone);
  return p;
}

export function isParseError(r: unknown): r is ParseError {
  return r instanceof Error;
}
