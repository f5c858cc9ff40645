import type { ServerResponse } from 'node:http';
import { ERROR_CATALOGUE, type ErrorCode } from '../../common/errors.js';
import { errorBody, statusLine } from './error-body.js';
import { httpDate } from './http-date.js';

/**
 * The fields of an error answer after its status (the body is `errorBody`): every listener's error
 * answers carry these, in this order.
 */
export function errorFields(body: string, requestId: string, retryAfterSeconds?: number, extra?: readonly string[]): string[] {
  const fields = [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
    'x-request-id',
    requestId,
    'cache-control',
    'no-store',
  ];
  if (retryAfterSeconds !== undefined) fields.push('retry-after', String(retryAfterSeconds));
  if (extra !== undefined) for (let i = 0; i < extra.length; i++) fields.push(extra[i]!);
  return fields;
}

/** Answers with the catalogue's status and the JSON error body (error-body.ts) on http.Server. */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  requestId: string,
  closeConnection = false,
  retryAfterSeconds?: number,
  extra?: readonly string[],
): void {
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(code, requestId);
  const headers = errorFields(body, requestId, retryAfterSeconds, extra);
  if (closeConnection) headers.push('connection', 'close');
  res.writeHead(ERROR_CATALOGUE[code].status, headers);
  res.end(body);
}

/**
 * The same answer as bytes, for a connection the proxy writes itself (the raw
 * engine's client connections, refused upgrades, unparsable requests), with
 * the headers Node adds on http.Server (Date, Connection, Keep-Alive).
 * `head`: the answer to a HEAD request, which has no body (its
 * Content-Length still says how long it would be).
 */
export function errorResponseText(
  code: ErrorCode,
  requestId: string,
  keepAlive: boolean,
  keepAliveSeconds: number,
  retryAfterSeconds: number | undefined,
  decision: string | null,
  head: boolean,
  extra?: readonly string[],
): string {
  const body = errorBody(code, requestId);
  let text = `${statusLine(ERROR_CATALOGUE[code].status)}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  if (requestId !== '') text += `x-request-id: ${requestId}\r\n`;
  text += 'cache-control: no-store\r\n';
  if (retryAfterSeconds !== undefined) text += `retry-after: ${retryAfterSeconds}\r\n`;
  if (extra !== undefined) for (let i = 0; i < extra.length; i += 2) text += `${extra[i]}: ${extra[i + 1]}\r\n`;
  if (decision !== null) text += `x-lb-decision: ${decision}\r\n`;
  text += `date: ${httpDate()}\r\n`;
  if (keepAlive) text += keepAliveSeconds > 0 ? `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveSeconds}\r\n` : 'connection: keep-alive\r\n';
  else text += 'connection: close\r\n';
  return head ? `${text}\r\n` : `${text}\r\n${body}`;
}

/** The answer for a socket that closes after it (client errors, refused upgrades). */
export function rawErrorResponse(code: ErrorCode, requestId = ''): string {
  return errorResponseText(code, requestId, false, 0, undefined, null, false);
}
