import type { ErrorCode } from '../../../common/errors.js';

/**
 * An HTTP/2 request head in the terms of the one request policy
 * (request-policy.ts), which speaks HTTP/1.1: RFC 9113 §8.3 and §8.2.3.
 *
 * Node's HTTP/2 (nghttp2) has already refused, with a stream error, what the
 * generic syntax forbids: uppercase field names, connection-specific fields
 * (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade), TE
 * other than "trailers", unknown, repeated, misplaced or missing
 * pseudo-headers, a :path that is neither origin form nor `*`, and several or
 * non-numeric Content-Length values; it drops a field whose name or value holds
 * a character RFC 9113 §8.2.1 forbids (CR, LF, NUL, a colon in a name, space at
 * either end of a value), so none reaches here. What is left is translation,
 * and what only the meaning of the fields shows:
 *
 * - `:authority` becomes Host; a Host beside it naming anything else is a
 *   request that means two hosts: refused (400), never forwarded to either;
 * - without `:authority`, exactly one Host (the policy checks it);
 * - Cookie fields, which HTTP/2 may split, are joined with "; ";
 * - a body without Content-Length (the stream did not end with the head) is
 *   framed as chunked, so it reaches the backend re-chunked or, when it fits
 *   the request buffer, with its exact length;
 * - the same defence as for HTTP/1.1 if a field with a forbidden character
 *   ever got through: refused (400);
 * - a head that would weigh more than --max-header-size as HTTP/1.1: 431, as
 *   over HTTP/1.1 (nghttp2's own bounds are set at twice ours, so that the
 *   client gets this answer and not a reset).
 */
export interface H2Head {
  readonly method: string;
  readonly target: string;
  /** HTTP/1.1 fields: Host first, then the client's fields in order, pseudo-headers gone. */
  readonly headers: string[];
  /** When set, answer this and forward nothing. */
  readonly refusal: ErrorCode | undefined;
}

/** Characters no field name or value may hold once translated (the HTTP/1.1 head must stay one line per field). */
const FORBIDDEN = /[\0\r\n]/;
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * Translates one request head as Node gives it (`raw`: flat [name, value, ...]
 * with the pseudo-headers first); `endStream`: the head ended the stream (no body).
 */
export function translateH2Head(raw: readonly string[], endStream: boolean, maxHeaderSize: number): H2Head {
  let method = '';
  let target = '';
  let authority: string | undefined;
  let host: string | undefined;
  let hosts = 0;
  let cookie: string | undefined;
  let length = false;
  let refusal: ErrorCode | undefined;
  const headers: string[] = ['host', ''];
  // What the head would weigh as HTTP/1.1 (`name: value\r\n` a field), held to the same --max-header-size.
  let size = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    size += name.length + value.length + 4;
    if (FORBIDDEN.test(value) || FORBIDDEN.test(name)) refusal = 'SWY_BAD_REQUEST';
    if (name.charCodeAt(0) === 0x3a /* : */) {
      if (name === ':method') method = value;
      else if (name === ':path') target = value;
      else if (name === ':authority') authority = value;
      else if (name !== ':scheme') refusal = 'SWY_BAD_REQUEST';
      continue;
    }
    if (name === 'host') {
      hosts++;
      host = value;
      continue;
    }
    if (name === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && value !== 'trailers')) refusal = 'SWY_BAD_REQUEST';
    if (name === 'content-length') length = true;
    headers.push(name, value);
  }
  if (authority !== undefined) {
    if (authority === '' || (host !== undefined && (hosts > 1 || host.toLowerCase() !== authority.toLowerCase()))) refusal = 'SWY_BAD_REQUEST';
    headers[1] = authority;
  } else if (hosts === 1) {
    headers[1] = host!;
  } else {
    // None, or several: the policy's Host rule answers it (400).
    headers.splice(0, 2);
    for (let i = 0; i < hosts; i++) headers.push('host', host!);
  }
  if (cookie !== undefined) headers.push('cookie', cookie);
  if (!endStream && !length) headers.push('transfer-encoding', 'chunked');
  if (method === '' || target === '') refusal = 'SWY_BAD_REQUEST';
  else if (size > maxHeaderSize) refusal ??= 'SWY_HEADERS_TOO_LARGE';
  return { method: method || 'GET', target: target || '/', headers, refusal };
}
