import { STATUS_CODES } from 'node:http';
import { httpDate } from './http-date.js';

/** How the body goes to the client. */
export const enum Framing {
  /** No body (HEAD, 1xx, 204, 304) or the backend's Content-Length, copied. */
  AsIs = 0,
  /** Re-chunked for an HTTP/1.1 client: the backend sent chunked or an end-at-close body. */
  Chunked = 1,
  /** Written raw and the connection closed after it: an HTTP/1.0 client and no Content-Length. */
  UntilClose = 2,
}

/** What the response head builder learned from the backend's headers. */
export interface ResponseShape {
  framing: Framing;
}

// Dropped from responses (hop-by-hop); the same list as rewriteResponseHeaders.
const SKIP_LENGTHS = new Set<number>([7, 10, 16, 17]);
const SKIP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer']);

/**
 * Status line and the backend's headers minus hop-by-hop ones, as text for
 * the client. Also tells whether the backend gave a Content-Length and a Date.
 * `noBody`: a response that has none whatever its headers say.
 */
export function responseHeadStart(status: number, statusText: string, raw: readonly string[], out: { hasLength: boolean; hasDate: boolean }): string {
  let text = `HTTP/1.1 ${status} ${statusText || STATUS_CODES[status] || 'unknown'}\r\n`;
  let hasLength = false;
  let hasDate = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const len = name.length;
    if (len === 4 || len === 14 || SKIP_LENGTHS.has(len)) {
      const lower = name.toLowerCase();
      if (lower === 'date') hasDate = true;
      else if (lower === 'content-length') hasLength = true;
      else if (SKIP.has(lower)) continue;
    }
    text += `${name}: ${raw[i + 1]}\r\n`;
  }
  out.hasLength = hasLength;
  out.hasDate = hasDate;
  return text;
}

/** The headers Node's http.Server adds itself: Date when missing, framing, Connection and Keep-Alive. */
export function responseHeadEnd(text: string, hasDate: boolean, framing: Framing, keepAlive: boolean, keepAliveSeconds: number): string {
  if (!hasDate) text += `date: ${httpDate()}\r\n`;
  if (framing === Framing.Chunked) text += 'transfer-encoding: chunked\r\n';
  if (keepAlive) text += keepAliveSeconds > 0 ? `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveSeconds}\r\n\r\n` : 'connection: keep-alive\r\n\r\n';
  else text += 'connection: close\r\n\r\n';
  return text;
}
