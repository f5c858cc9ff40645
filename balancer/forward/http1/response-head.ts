import { responseFieldsText, type ResponseShape } from '../response-policy.js';
import { statusLine } from '../error-body.js';
import { httpDate } from '../http-date.js';

/** How the body goes to the client. */
export const enum Framing {
  /** No body (HEAD, 1xx, 204, 304) or the backend's Content-Length, copied. */
  AsIs = 0,
  /** Re-chunked for an HTTP/1.1 client: the backend sent chunked or an end-at-close body. */
  Chunked = 1,
  /** Written raw and the connection closed after it: an HTTP/1.0 client and no Content-Length. */
  UntilClose = 2,
}

/**
 * Status line and the backend's fields the response policy keeps
 * (../response-policy.ts), as text for the client; `shape` says whether the
 * backend's Content-Length and Date were kept.
 */
export function responseHeadStart(status: number, statusText: string, raw: readonly string[], shape: ResponseShape): string {
  return `${statusLine(status, statusText)}\r\n${responseFieldsText(raw, status < 200 || status === 204, shape)}`;
}

/** The headers Node's http.Server adds itself: Date when missing, framing, Connection and Keep-Alive. */
export function responseHeadEnd(text: string, hasDate: boolean, framing: Framing, keepAlive: boolean, keepAliveSeconds: number): string {
  if (!hasDate) text += `date: ${httpDate()}\r\n`;
  if (framing === Framing.Chunked) text += 'transfer-encoding: chunked\r\n';
  if (keepAlive) text += keepAliveSeconds > 0 ? `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveSeconds}\r\n\r\n` : 'connection: keep-alive\r\n\r\n';
  else text += 'connection: close\r\n\r\n';
  return text;
}
