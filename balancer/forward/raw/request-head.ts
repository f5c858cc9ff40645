import { rewriteRequestHeaders, type UpstreamRequestHead } from '../request-headers.js';

/** The upstream request head of one client request, built once and sent on every attempt. */
export interface RawRequestHead {
  /** Request line and headers, without Host when the client sent none, without the blank line. */
  text: string;
  /** True when the client sent no Host header (HTTP/1.0): each attempt adds the backend's. */
  hostMissing: boolean;
  /** The client's X-Request-Id when acceptable, else undefined. */
  incomingRequestId: string | undefined;
}

// One scratch list for every request: the rewrite fills it, the text is built from it, it is emptied.
const scratch: UpstreamRequestHead = { headers: [], hasBody: false, incomingRequestId: undefined };

/**
 * Applies the shared header rules (`rewriteRequestHeaders`: hop-by-hop and
 * Expect dropped, X-Forwarded-* set, the client's X-Request-Id vetted) to the
 * parser's raw header list and writes the HTTP/1.1 head for the backend.
 * `chunked` adds Transfer-Encoding: chunked (the body is re-framed).
 * The caller appends X-Request-Id with `withRequestId`.
 */
export function buildRequestHead(method: string, url: string, raw: readonly string[], clientIp: string, trustForwarded: boolean, chunked: boolean): RawRequestHead {
  const headers = scratch.headers;
  const host = rewriteRequestHeaders(raw, scratch, clientIp, 'http', trustForwarded);
  let text = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  headers.length = 0;
  if (chunked) text += 'transfer-encoding: chunked\r\n';
  return { text, hostMissing: host === '' && !hasHostHeader(raw), incomingRequestId: scratch.incomingRequestId };
}

function hasHostHeader(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') return true;
  return false;
}
