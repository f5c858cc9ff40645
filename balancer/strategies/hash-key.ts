import { readCookie, isCookieName } from './cookie.js';
import type { PickContext } from './strategy.js';

/**
 * What a consistent-hash strategy hashes, from `--hash-key`:
 * `ip` (client address), `path` (the path before `?`, as HAProxy `balance uri`),
 * `header:NAME` or `cookie:NAME`. `key()` returns undefined when the request
 * does not carry it; the strategy then falls back to round robin (HAProxy's
 * behaviour for `balance hdr()` with the header absent).
 */
export interface KeyExtractor {
  readonly spec: string;
  key(ctx: PickContext): string | undefined;
}

export const HASH_KEY_KINDS = ['ip', 'path', 'header:NAME', 'cookie:NAME'] as const;

class IpKey implements KeyExtractor {
  readonly spec = 'ip';
  key(ctx: PickContext): string | undefined {
    return ctx.clientIp === '' ? undefined : ctx.clientIp;
  }
}

class PathKey implements KeyExtractor {
  readonly spec = 'path';
  key(ctx: PickContext): string {
    const p = ctx.path;
    const q = p.indexOf('?');
    return q < 0 ? p : p.slice(0, q);
  }
}

class HeaderKey implements KeyExtractor {
  readonly spec: string;
  readonly #name: string;
  constructor(name: string) {
    this.#name = name.toLowerCase();
    this.spec = `header:${this.#name}`;
  }
  key(ctx: PickContext): string | undefined {
    const v = ctx.header(this.#name);
    return v === undefined || v === '' ? undefined : v;
  }
}

class CookieKey implements KeyExtractor {
  readonly spec: string;
  readonly #name: string;
  constructor(name: string) {
    this.#name = name;
    this.spec = `cookie:${name}`;
  }
  key(ctx: PickContext): string | undefined {
    const v = readCookie(ctx.header('cookie'), this.#name);
    return v === undefined || v === '' ? undefined : v;
  }
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses a `--hash-key` value; a bad one throws naming the option and the accepted forms. */
export function parseHashKey(spec: string): KeyExtractor {
  if (spec === 'ip') return new IpKey();
  if (spec === 'path') return new PathKey();
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const name = colon < 0 ? '' : spec.slice(colon + 1);
  if (kind === 'header' && HEADER_NAME.test(name)) return new HeaderKey(name);
  if (kind === 'cookie' && isCookieName(name)) return new CookieKey(name);
  throw new RangeError(`invalid hashKey '${spec}'; expected one of ${HASH_KEY_KINDS.join(', ')}`);
}
