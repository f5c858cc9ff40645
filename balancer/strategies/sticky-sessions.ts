import { createHmac } from 'node:crypto';
import { isCookieName, readCookie } from './cookie.js';
import { isExcluded, type Candidate, type PickContext, type Strategy } from './strategy.js';

export interface StickyOptions {
  /** Cookie that pins a client to a backend. */
  readonly cookieName: string;
  /**
   * Key of the HMAC that turns a backend id into the cookie value. Every
   * balancer behind the same address must share it, or clients re-pin on
   * each balancer. At least 16 characters/bytes.
   */
  readonly secret: string | Uint8Array;
  /** `Max-Age` of the cookie; undefined gives a session cookie. */
  readonly maxAgeSeconds?: number;
  /** Adds `Secure` (set it when clients reach the balancer over TLS). */
  readonly secure?: boolean;
}

export const STICKY_DEFAULTS = Object.freeze({ cookieName: 'swy_sticky' });

/** Bytes of the HMAC kept in the cookie value (128 bits, 22 base64url characters). */
const TOKEN_BYTES = 16;

/**
 * Sticky sessions as a decorator over any strategy. The cookie holds
 * base64url(HMAC-SHA256(secret, id))[:128 bits]: it neither reveals the
 * backend id nor can be forged for another backend without the secret.
 *
 * pick(): when the request's cookie names a backend among the candidates
 * (and not excluded), that backend; otherwise the inner strategy's pick
 * (first visit, or the pinned backend left, turned unhealthy, was ejected).
 * cookieToSet(): after the attempt that answers, the value the proxy must
 * set so the client is pinned to the backend that actually served, or
 * undefined when the request already carries it.
 */
export class StickySessions<C extends Candidate = Candidate> implements Strategy<C> {
  readonly name: string;
  readonly inner: Strategy<C>;
  readonly cookieName: string;
  readonly #key: Buffer;
  readonly #attributes: string;
  readonly #tokens = new Map<string, string>();
  readonly #byToken = new WeakMap<readonly C[], Map<string, number>>();

  constructor(inner: Strategy<C>, options: StickyOptions) {
    if (!isCookieName(options.cookieName)) throw new RangeError(`invalid stickyCookie '${options.cookieName}'; expected a cookie name (RFC 6265 token)`);
    const key = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : Buffer.from(options.secret);
    if (key.length < 16) throw new RangeError('stickySecret is too short; use at least 16 characters, shared by every balancer');
    if (options.maxAgeSeconds !== undefined && !(Number.isInteger(options.maxAgeSeconds) && options.maxAgeSeconds > 0)) {
      throw new RangeError(`invalid stickyMaxAge ${options.maxAgeSeconds}; expected a positive integer (seconds)`);
    }
    this.inner = inner;
    this.name = inner.name;
    this.cookieName = options.cookieName;
    this.#key = key;
    this.#attributes =
      '; Path=/; HttpOnly; SameSite=Lax' +
      (options.maxAgeSeconds === undefined ? '' : `; Max-Age=${options.maxAgeSeconds}`) +
      (options.secure === true ? '; Secure' : '');
    if (inner.observe !== undefined) this.observe = inner.observe.bind(inner);
    if (inner.refresh !== undefined) this.refresh = inner.refresh.bind(inner);
    if (inner.weightOf !== undefined) this.weightOf = inner.weightOf.bind(inner);
  }

  readonly observe?: (id: string, latencyMs: number, ok: boolean, now: number) => void;
  readonly refresh?: (candidates: readonly C[], now: number) => void;
  readonly weightOf?: (c: C) => number;

  setCookieFor(ctx: PickContext, served: C): string | undefined {
    const token = this.cookieToSet(ctx, served);
    return token === undefined ? undefined : this.setCookieHeader(token);
  }

  pick(candidates: readonly C[], ctx: PickContext, exclude?: readonly C[]): C | undefined {
    const pinned = this.pinned(candidates, ctx);
    if (pinned !== undefined && !isExcluded(pinned, exclude)) return pinned;
    return this.inner.pick(candidates, ctx, exclude);
  }

  /** The candidate the request's cookie names, if it is among `candidates`. */
  pinned(candidates: readonly C[], ctx: PickContext): C | undefined {
    const token = readCookie(ctx.header('cookie'), this.cookieName);
    if (token === undefined) return undefined;
    const i = this.#indexFor(candidates).get(token);
    return i === undefined ? undefined : candidates[i];
  }

  /** Cookie value to set after `served` answered, or undefined when the request already carries it. */
  cookieToSet(ctx: PickContext, served: C): string | undefined {
    const token = this.tokenFor(served.id);
    return readCookie(ctx.header('cookie'), this.cookieName) === token ? undefined : token;
  }

  /** A full `Set-Cookie` header value for a token. */
  setCookieHeader(token: string): string {
    return `${this.cookieName}=${token}${this.#attributes}`;
  }

  /** The cookie value naming a backend id (computed once per id). */
  tokenFor(id: string): string {
    let t = this.#tokens.get(id);
    if (t === undefined) {
      t = createHmac('sha256', this.#key).update(id, 'utf8').digest().subarray(0, TOKEN_BYTES).toString('base64url');
      if (this.#tokens.size > 4096) this.#tokens.clear();
      this.#tokens.set(id, t);
    }
    return t;
  }

  #indexFor(candidates: readonly C[]): Map<string, number> {
    let m = this.#byToken.get(candidates);
    if (m === undefined) {
      m = new Map();
      for (let i = 0; i < candidates.length; i++) m.set(this.tokenFor(candidates[i].id), i);
      this.#byToken.set(candidates, m);
    }
    return m;
  }
}
