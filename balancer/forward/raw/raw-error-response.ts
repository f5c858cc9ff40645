import { ERROR_CATALOGUE, type ErrorCode } from '../../../common/errors.js';
import { errorBody, statusLine } from '../error-body.js';
import { httpDate } from './http-date.js';

/**
 * The catalogue's JSON error answer as bytes for a client connection, with
 * the same headers as `sendError` on the http.Server path (and the ones Node
 * adds there: Date, Connection, Keep-Alive). `head`: the answer to a HEAD
 * request, which has no body (its Content-Length still says how long it would be).
 */
export function errorResponseText(
  code: ErrorCode,
  requestId: string,
  keepAlive: boolean,
  keepAliveSeconds: number,
  retryAfterSeconds: number | undefined,
  decision: string | null,
  head: boolean,
): string {
  const body = errorBody(code, requestId);
  let text = `${statusLine(ERROR_CATALOGUE[code].status)}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\ncache-control: no-store\r\n`;
  if (retryAfterSeconds !== undefined) text += `retry-after: ${retryAfterSeconds}\r\n`;
  if (decision !== null) text += `x-lb-decision: ${decision}\r\n`;
  text += `date: ${httpDate()}\r\n`;
  if (keepAlive) text += keepAliveSeconds > 0 ? `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveSeconds}\r\n` : 'connection: keep-alive\r\n';
  else text += 'connection: close\r\n';
  return head ? `${text}\r\n` : `${text}\r\n${body}`;
}
