import type { IncomingHttpHeaders } from 'node:http';

/**
 * Request header rewriting for the upstream request, on the raw header list
 * (`req.rawHeaders`), without building Node's lowercased header object.
 *
 * Dropped: hop-by-hop headers (RFC 9110 7.6.1: Connection, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, and any named in
 * Connection), Expect (the server already answered 100-continue), and the
 * client's X-Forwarded-* / X-Request-Id unless forwarded headers are trusted.
 * Added: X-Forwarded-For (appended when trusted), -Proto, -Host, X-Request-Id.
 */
export interface UpstreamRequestHead {
  /** Flat [name, value, name, value, ...] list for the upstream request. */
  headers: string[];
  /** True when the request carries a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
  /** The client's X-Request-Id when acceptable, else undefined. */
  incomingRequestId: string | undefined;
}

// Names are compared only when their length matches one of these, so most
// headers cost one length check and no lowercasing.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);
const WATCHED_LENGTHS = new Set<number>([2, 4, 6, 7, 10, 12, 14, 15, 16, 17]);

const REQUEST_ID_MAX = 200;

export function isAcceptableRequestId(v: string): boolean {
  if (v.length === 0 || v.length > REQUEST_ID_MAX) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

export function clientAddress(remote: string | undefined): string {
  if (!remote) return '';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}

/**
 * Fills `out` from the client's raw headers. Returns the Host header value
 * ('' when absent). The caller appends X-Request-Id once it knows the id.
 */
export function rewriteRequestHeaders(
  raw: readonly string[],
  out: UpstreamRequestHead,
  clientIp: string,
  proto: string,
  trustForwarded: boolean,
): string {
  const headers = out.headers;
  let host = '';
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let connectionTokens: string | undefined;
  let hasBody = false;
  out.incomingRequestId = undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (!WATCHED_LENGTHS.has(name.length)) {
      headers.push(name, value);
      continue;
    }
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        host = value;
        headers.push(name, value);
        continue;
      case 'content-length':
        if (value !== '0') hasBody = true;
        headers.push(name, value);
        continue;
      case 'transfer-encoding':
        hasBody = true;
        continue;
      case 'connection':
        connectionTokens = connectionTokens === undefined ? value : `${connectionTokens},${value}`;
        continue;
      case 'x-request-id':
        if (isAcceptableRequestId(value)) out.incomingRequestId = value;
        continue;
      case 'x-forwarded-for':
        if (trustForwarded) forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        if (trustForwarded) forwardedProto = value;
        continue;
      case 'x-forwarded-host':
        if (trustForwarded) forwardedHost = value;
        continue;
      default:
        if (HOP_BY_HOP.has(lower)) continue;
        headers.push(name, value);
    }
  }
  if (connectionTokens !== undefined) dropConnectionListed(headers, connectionTokens);
  headers.push(
    'x-forwarded-for',
    forwardedFor === undefined ? clientIp : `${forwardedFor}, ${clientIp}`,
    'x-forwarded-proto',
    forwardedProto ?? proto,
    'x-forwarded-host',
    forwardedHost ?? host,
  );
  out.hasBody = hasBody;
  return host;
}

/** Removes headers the client named in Connection (they are hop-by-hop too). */
function dropConnectionListed(headers: string[], tokens: string): void {
  const named = new Set<string>();
  for (const t of tokens.split(',')) {
    const n = t.trim().toLowerCase();
    if (n && n !== 'close' && n !== 'keep-alive' && n !== 'upgrade') named.add(n);
  }
  if (named.size === 0) return;
  let w = 0;
  for (let r = 0; r < headers.length; r += 2) {
    if (named.has(headers[r]!.toLowerCase())) continue;
    headers[w++] = headers[r]!;
    headers[w++] = headers[r + 1]!;
  }
  headers.length = w;
}

const RESPONSE_SKIP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer']);
const RESPONSE_WATCHED_LENGTHS = new Set<number>([7, 10, 16, 17]);

/**
 * Converts undici's raw response headers (Buffers) to the flat string list
 * `res.writeHead()` takes, dropping hop-by-hop headers so Node frames the
 * response itself. Duplicates (Set-Cookie) are kept as they are.
 */
export function rewriteResponseHeaders(raw: readonly Buffer[], out: string[]): void {
  for (let i = 0; i < raw.length; i += 2) {
    const nameBuf = raw[i]!;
    const name = nameBuf.toString('latin1');
    if (RESPONSE_WATCHED_LENGTHS.has(name.length) && RESPONSE_SKIP.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
}

/**
 * The same rewriting on Node's parsed header object, for the engines that
 * hand `req.headers` to http-proxy (the compatibility engine, upgrades).
 * Returns the request id now in the headers.
 */
export function rewriteParsedHeaders(h: IncomingHttpHeaders, clientIp: string, trustForwarded: boolean, nextRequestId: () => string): string {
  const incoming = h['x-request-id'];
  const requestId = typeof incoming === 'string' && isAcceptableRequestId(incoming) ? incoming : nextRequestId();
  h['x-forwarded-for'] = trustForwarded && h['x-forwarded-for'] ? `${String(h['x-forwarded-for'])}, ${clientIp}` : clientIp;
  h['x-forwarded-proto'] = trustForwarded && h['x-forwarded-proto'] ? h['x-forwarded-proto'] : 'http';
  h['x-forwarded-host'] = trustForwarded && h['x-forwarded-host'] ? h['x-forwarded-host'] : (h.host ?? '');
  h['x-request-id'] = requestId;
  return requestId;
}
