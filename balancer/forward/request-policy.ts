import { clientRefused, forwardedClient, peerTrusted, type ClientRules } from './client-rules.js';
import type { ErrorCode } from '../../common/errors.js';

/**
 * The one request policy every engine applies before a request may leave for
 * a backend (RFC 9110, RFC 9112). It reads the client's parsed head (method,
 * target, version and the raw header list, already checked for syntax by
 * llhttp) and either refuses the request with a catalogue code or says what
 * goes upstream:
 *
 * - the target in origin form, with Host taken from an absolute-form target;
 * - exactly one Host on HTTP/1.1 (none or several: 400), a valid authority;
 * - hop-by-hop fields dropped: Connection and every field it names,
 *   Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, Expect, and the
 *   framing fields Content-Length and Transfer-Encoding (each engine writes
 *   the framing of the body as it actually sends it, from `body`/`length`);
 * - a Connection token naming a field the proxy relies on (Host, framing,
 *   Via, Forwarded, X-Forwarded-*, X-Real-IP, X-Request-Id): 400;
 * - field names with an underscore dropped (nginx's default), more fields
 *   than `maxHeaders`: 431;
 * - Forwarded, X-Real-IP and X-Forwarded-* from the client dropped unless
 *   forwarded headers are trusted; X-Forwarded-For/-Proto/-Host set;
 * - Via appended with this deployment's pseudonym; a request that already
 *   carries it has been here before: 508 (a loop);
 * - a transfer coding other than chunked: 501; on HTTP/1.0: 400;
 * - a body larger than `maxBodySize` (declared): 413;
 * - an Upgrade to a protocol on the allow-list (websocket) is kept for the
 *   tunnel; any other (h2c) is ignored and the request served as a plain one;
 *   an Upgrade request with a body: 400;
 * - CONNECT: 501; an Expect other than 100-continue: 417; HTTP other than
 *   1.0 and 1.1: 505.
 */
export interface RequestPolicyOptions {
  /** Who may say who the client is (X-Forwarded-*), and which clients are served. */
  readonly clients: ClientRules;
  /** Most header fields a request may carry (431 above). */
  readonly maxHeaders: number;
  /** Largest request body in bytes (413 above); 0: no limit. */
  readonly maxBodySize: number;
  /** This deployment's pseudonym in Via (loop detection). */
  readonly via: string;
  /** The Via values this proxy adds: `1.1 <via>` and `1.0 <via>`. */
  readonly via11: string;
  readonly via10: string;
  /** Upgrade protocols tunnelled (lowercase). */
  readonly upgrades: ReadonlySet<string>;
}

/** How the client frames its request body. */
export const enum BodyFraming {
  None = 0,
  /** Content-Length (`length` bytes, possibly 0). */
  Length = 1,
  Chunked = 2,
}

/** What the policy decided for one request; one object is reused by the caller where it can. */
export interface PolicyVerdict {
  /** Set when the request must be answered locally with this error and not forwarded. */
  refusal: ErrorCode | undefined;
  /** The request target in origin form (or `*` for OPTIONS). */
  path: string;
  /** The Host value for the backend ('' when an HTTP/1.0 request had none: the engine uses the backend's). */
  host: string;
  /** Fields to forward, flat [name, value, ...]: no Host (the engine writes `host` first), no framing; X-Forwarded-*, Via and X-Request-Id added. */
  headers: string[];
  body: BodyFraming;
  /** Content-Length when `body` is Length, else -1. */
  length: number;
  /** An allowed Upgrade protocol (the request becomes a tunnel), else undefined. */
  upgrade: string | undefined;
  expectContinue: boolean;
  /** The client's X-Request-Id when acceptable, else the id the caller generated. */
  requestId: string;
  /** The client: the peer, or behind a trusted proxy the address it forwarded (client-rules.ts). */
  clientIp: string;
  /** The request came over TLS (the HTTPS listener). */
  secure: boolean;
}

export function newVerdict(): PolicyVerdict {
  return {
    refusal: undefined,
    path: '',
    host: '',
    headers: [],
    body: BodyFraming.None,
    length: -1,
    upgrade: undefined,
    expectContinue: false,
    requestId: '',
    clientIp: '',
    secure: false,
  };
}

/** The client's request head as a parser gave it. */
export interface RequestFacts {
  readonly method: string;
  readonly target: string;
  readonly major: number;
  readonly minor: number;
  /** Raw header list [name, value, ...] in arrival order, names as sent. */
  readonly headers: readonly string[];
  readonly clientIp: string;
  /** Scheme the client used to reach us ('http' until TLS is served). */
  readonly proto: string;
}

const REQUEST_ID_MAX = 200;

export function isAcceptableRequestId(v: string): boolean {
  if (v.length === 0 || v.length > REQUEST_ID_MAX) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** The first value of header `name` (lower case) in Node's flat raw header list, whatever its case there. */
export function rawHeaderValue(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

export function clientAddress(remote: string | undefined): string {
  if (!remote) return '';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}

// A field name is only lowercased and compared when its length is one of these.
const WATCHED_LENGTHS = new Set<number>([2, 3, 4, 6, 7, 9, 10, 12, 14, 16, 17]);
const HOP_BY_HOP = new Set(['keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect', 'http2-settings']);
/** Fields a Connection token may not name: removing them would change routing, framing or what the backend learns of the client. */
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding', 'via', 'forwarded', 'x-real-ip', 'x-request-id']);
/** Connection tokens that are options of the connection, not field names. */
const CONNECTION_OPTIONS = new Set(['close', 'keep-alive', 'upgrade']);

/**
 * Applies the policy to one request head. Fills `out` and returns it;
 * `out.refusal` set means: answer that error, forward nothing.
 * `requestId` makes an id when the client sent no acceptable X-Request-Id.
 */
export function evaluateRequest(f: RequestFacts, opts: RequestPolicyOptions, requestId: () => string, out: PolicyVerdict): PolicyVerdict {
  const raw = f.headers;
  const headers = out.headers;
  // Written by index and cut to length at the end: emptying the array first would drop its storage
  // and make every request allocate it again.
  let w = 0;
  out.refusal = undefined;
  out.upgrade = undefined;
  out.expectContinue = false;
  out.body = BodyFraming.None;
  out.length = -1;
  out.host = '';
  out.path = f.target;
  out.requestId = '';
  out.clientIp = f.clientIp;
  out.secure = f.proto === 'https';

  if (f.major !== 1 || f.minor > 1) return refuse(out, 'SWY_HTTP_VERSION', requestId);
  if (f.method === 'CONNECT') return refuse(out, 'SWY_NOT_IMPLEMENTED', requestId);
  if (raw.length > opts.maxHeaders * 2) return refuse(out, 'SWY_TOO_MANY_HEADERS', requestId);

  let hostCount = 0;
  let host = '';
  let connection: string | undefined;
  let transferEncoding: string | undefined;
  let contentLength: string | undefined;
  let upgrade: string | undefined;
  let expect: string | undefined;
  let incomingId: string | undefined;
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let connectionNamed = false;
  const rules = opts.clients;
  const trust = rules.trusted !== undefined && peerTrusted(rules, f.clientIp);

  // One pass: the common field costs a length check and an underscore scan.
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name.includes('_')) continue;
    const len = name.length;
    if (len >= 12 && (name.charCodeAt(0) | 0x20) === 0x78 /* x */ && name.charCodeAt(1) === 0x2d && name.slice(2, 12).toLowerCase() === 'forwarded-') {
      if (!trust) continue;
      const lower = name.toLowerCase();
      if (lower === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      else if (lower === 'x-forwarded-proto') forwardedProto ??= value;
      else if (lower === 'x-forwarded-host') forwardedHost ??= value;
      else {
        headers[w++] = name;
        headers[w++] = value;
      }
      continue;
    }
    if (!WATCHED_LENGTHS.has(len)) {
      headers[w++] = name;
      headers[w++] = value;
      continue;
    }
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        hostCount++;
        host = value;
        continue;
      case 'content-length':
        contentLength = value;
        continue;
      case 'transfer-encoding':
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
        continue;
      case 'connection':
        connection = connection === undefined ? value : `${connection},${value}`;
        continue;
      case 'upgrade':
        upgrade = upgrade === undefined ? value : `${upgrade},${value}`;
        continue;
      case 'expect':
        expect = expect === undefined ? value : `${expect},${value}`;
        continue;
      case 'x-request-id':
        if (incomingId === undefined && isAcceptableRequestId(value)) incomingId = value;
        continue;
      case 'via':
        if (value.includes(opts.via) && viaNames(value, opts.via)) return refuse(out, 'SWY_LOOP_DETECTED', requestId);
        headers[w++] = name;
        headers[w++] = value;
        continue;
      case 'forwarded':
      case 'x-real-ip':
        if (trust) {
          headers[w++] = name;
          headers[w++] = value;
        }
        continue;
      default:
        if (HOP_BY_HOP.has(lower)) continue;
        headers[w++] = name;
        headers[w++] = value;
    }
  }

  // --- who the client is, and whether it is served ----------------------------------
  if (trust && forwardedFor !== undefined) out.clientIp = forwardedClient(rules, forwardedFor, f.clientIp);
  // Behind a trusted proxy that took the client's TLS, the scheme is the one it forwarded.
  if (trust && forwardedProto !== undefined) out.secure = forwardedProto.trim().toLowerCase() === 'https';
  if ((rules.deny !== undefined || rules.allow !== undefined) && clientRefused(rules, out.clientIp)) return refuse(out, 'SWY_FORBIDDEN', requestId);

  // --- target and Host (RFC 9112 3.2) -------------------------------------------
  const http11 = f.minor === 1;
  if (hostCount > 1 || (http11 && hostCount === 0)) return refuse(out, 'SWY_BAD_HOST', requestId);
  if (hostCount === 1 && !isAuthority(host, true)) return refuse(out, 'SWY_BAD_HOST', requestId);
  const target = f.target;
  if (target.charCodeAt(0) === 0x2f /* / */) out.path = target;
  else if (target === '*') {
    if (f.method !== 'OPTIONS') return refuse(out, 'SWY_BAD_REQUEST', requestId);
  } else {
    const abs = absoluteForm(target);
    if (abs === undefined) return refuse(out, 'SWY_BAD_REQUEST', requestId);
    out.path = abs.path;
    host = abs.authority;
    hostCount = 1;
  }
  out.host = host;

  // --- Connection (RFC 9110 7.6.1) ------------------------------------------------
  let upgradeAsked = false;
  if (connection !== undefined) {
    for (const t of connection.split(',')) {
      const token = t.trim().toLowerCase();
      if (token === '') continue;
      if (CONNECTION_OPTIONS.has(token)) {
        if (token === 'upgrade') upgradeAsked = true;
        continue;
      }
      if (PROTECTED.has(token) || token.startsWith('x-forwarded-')) return refuse(out, 'SWY_BAD_REQUEST', requestId);
      connectionNamed = true;
    }
  }

  // --- body framing (RFC 9112 6) ------------------------------------------------
  if (transferEncoding !== undefined) {
    if (!http11) return refuse(out, 'SWY_BAD_REQUEST', requestId);
    if (transferEncoding.trim().toLowerCase() !== 'chunked') return refuse(out, 'SWY_NOT_IMPLEMENTED', requestId);
    if (contentLength !== undefined) return refuse(out, 'SWY_BAD_REQUEST', requestId);
    out.body = BodyFraming.Chunked;
  } else if (contentLength !== undefined) {
    const n = parseLength(contentLength);
    if (n < 0) return refuse(out, n === -2 ? 'SWY_BODY_TOO_LARGE' : 'SWY_BAD_REQUEST', requestId);
    if (opts.maxBodySize > 0 && n > opts.maxBodySize) return refuse(out, 'SWY_BODY_TOO_LARGE', requestId);
    out.body = BodyFraming.Length;
    out.length = n;
  }

  // --- Expect (RFC 9110 10.1.1) ---------------------------------------------------
  if (expect !== undefined) {
    if (expect.trim().toLowerCase() !== '100-continue') return refuse(out, 'SWY_EXPECTATION_FAILED', requestId);
    out.expectContinue = http11;
  }

  // --- Upgrade: only the allow-list becomes a tunnel ---------------------------------
  if (upgrade !== undefined && upgradeAsked) {
    // An upgrade request with a body: parsers disagree on where the new protocol starts. Refused.
    if (out.length > 0 || out.body === BodyFraming.Chunked) return refuse(out, 'SWY_BAD_REQUEST', requestId);
    const proto = firstProtocol(upgrade);
    if (http11 && opts.upgrades.has(proto)) out.upgrade = proto;
  }

  // --- what goes upstream -----------------------------------------------------------
  if (connectionNamed) {
    headers.length = w;
    dropNamed(headers, connection!);
    w = headers.length;
  }
  const id = incomingId ?? requestId();
  out.requestId = id;
  const clientIp = f.clientIp;
  headers[w++] = 'x-forwarded-for';
  headers[w++] = forwardedFor === undefined ? clientIp : `${forwardedFor}, ${clientIp}`;
  headers[w++] = 'x-forwarded-proto';
  headers[w++] = forwardedProto ?? f.proto;
  const fwdHost = forwardedHost ?? host;
  if (fwdHost !== '') {
    headers[w++] = 'x-forwarded-host';
    headers[w++] = fwdHost;
  }
  headers[w++] = 'via';
  headers[w++] = http11 ? opts.via11 : opts.via10;
  headers[w++] = 'x-request-id';
  headers[w++] = id;
  if (out.upgrade !== undefined) {
    headers[w++] = 'connection';
    headers[w++] = 'upgrade';
    headers[w++] = 'upgrade';
    headers[w++] = upgrade!;
  }
  headers.length = w;
  return out;
}

function refuse(out: PolicyVerdict, code: ErrorCode, requestId: () => string): PolicyVerdict {
  out.refusal = code;
  out.headers.length = 0;
  // A refusal carries an id too (in X-Request-Id and its body), though nothing is forwarded.
  out.requestId = requestId();
  return out;
}

/** True when a Via value lists `pseudonym` as the receiver of one of its hops. */
function viaNames(value: string, pseudonym: string): boolean {
  for (const element of value.split(',')) {
    const parts = element.trim().split(/[ \t]+/);
    if (parts[1] === pseudonym) return true;
  }
  return false;
}

/** Removes the fields a Connection header named (after the pass, so order does not matter). */
function dropNamed(headers: string[], connection: string): void {
  const named = new Set<string>();
  for (const t of connection.split(',')) {
    const n = t.trim().toLowerCase();
    if (n !== '' && !CONNECTION_OPTIONS.has(n)) named.add(n);
  }
  let w = 0;
  for (let r = 0; r < headers.length; r += 2) {
    if (named.has(headers[r]!.toLowerCase())) continue;
    headers[w++] = headers[r]!;
    headers[w++] = headers[r + 1]!;
  }
  headers.length = w;
}

/** -1: not a length; -2: too large to be represented exactly (treated as too large). */
function parseLength(v: string): number {
  const s = v.trim();
  if (s.length === 0 || s.length > 16) return s.length > 16 && /^[0-9]+$/.test(s) ? -2 : -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return Number.isSafeInteger(n) ? n : -2;
}

function firstProtocol(upgrade: string): string {
  const first = upgrade.split(',')[0]!.trim().toLowerCase();
  const slash = first.indexOf('/');
  return slash < 0 ? first : first.slice(0, slash);
}

// RFC 3986 reg-name characters: unreserved, sub-delims and '%' (pct-encoded).
const REG_NAME = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%") REG_NAME[c.charCodeAt(0)] = 1;

/**
 * An authority as Host carries it: `host[:port]`, host a reg-name, IPv4 or
 * `[IPv6]`, no userinfo. `allowEmpty`: an empty Host is valid (RFC 9112 3.2).
 */
export function isAuthority(v: string, allowEmpty: boolean): boolean {
  if (v.length === 0) return allowEmpty;
  if (v.length > 255 + 6) return false;
  let i = 0;
  if (v.charCodeAt(0) === 0x5b /* [ */) {
    const end = v.indexOf(']');
    if (end < 3) return false;
    for (let j = 1; j < end; j++) {
      const c = v.charCodeAt(j);
      if (!((c >= 0x30 && c <= 0x3a) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) || c === 0x2e)) return false;
    }
    i = end + 1;
  } else {
    while (i < v.length && v.charCodeAt(i) !== 0x3a) {
      const c = v.charCodeAt(i);
      if (c >= 128 || REG_NAME[c] === 0) return false;
      i++;
    }
    if (i === 0) return false;
  }
  if (i === v.length) return true;
  if (v.charCodeAt(i) !== 0x3a || v.length - i - 1 > 5) return false;
  let port = 0;
  for (let j = i + 1; j < v.length; j++) {
    const d = v.charCodeAt(j) - 48;
    if (d < 0 || d > 9) return false;
    port = port * 10 + d;
  }
  return port <= 65535;
}

/** `http://authority/path?q` to its parts; undefined unless http(s), with a valid authority and no userinfo. */
function absoluteForm(target: string): { authority: string; path: string } | undefined {
  const m = /^(https?):\/\/([^/?#]*)([^#]*)$/i.exec(target);
  if (m === null) return undefined;
  const authority = m[2]!;
  if (!isAuthority(authority, false)) return undefined;
  const rest = m[3]!;
  return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 0x3f /* ? */ ? `/${rest}` : rest };
}
