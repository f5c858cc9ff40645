import type { ServerResponse } from 'node:http';
import { ERROR_CATALOGUE, type ErrorCode } from '../../common/errors.js';
import { errorBody, statusLine } from './error-body.js';

/** Answers with the catalogue's status and the JSON error body (error-body.ts) on http.Server. */
export function sendError(res: ServerResponse, code: ErrorCode, requestId: string, closeConnection = false, retryAfterSeconds?: number): void {
  if (res.headersSent || res.destroyed) return;
  const entry = ERROR_CATALOGUE[code];
  const body = errorBody(code, requestId);
  const headers: (string | number)[] = [
    'content-type',
    'application/json',
    'content-length',
    Buffer.byteLength(body),
    'x-request-id',
    requestId,
    'cache-control',
    'no-store',
  ];
  if (retryAfterSeconds !== undefined) headers.push('retry-after', retryAfterSeconds);
  if (closeConnection) headers.push('connection', 'close');
  res.writeHead(entry.status, headers as string[]);
  res.end(body);
}

/** The same body for a raw socket (client errors, refused upgrades), then the socket is ended. */
export function rawErrorResponse(code: ErrorCode, requestId = ''): string {
  const body = errorBody(code, requestId);
  return `${statusLine(ERROR_CATALOGUE[code].status)}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
