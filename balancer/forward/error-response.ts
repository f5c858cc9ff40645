import { STATUS_CODES, type ServerResponse } from 'node:http';
import { ERROR_CATALOGUE, type ErrorCode } from '../../common/errors.js';

/**
 * Writes the small JSON error body every proxy error uses:
 * {"error":{"code":"SWY_NO_BACKEND","message":"...","requestId":"..."}}
 */
export function sendError(res: ServerResponse, code: ErrorCode, requestId: string, closeConnection = false, retryAfterSeconds?: number): void {
  if (res.headersSent || res.destroyed) return;
  const entry = ERROR_CATALOGUE[code];
  const body = `{"error":{"code":"${code}","message":"${entry.message}","requestId":${JSON.stringify(requestId)}}}`;
  const headers: (string | number)[] = ['content-type', 'application/json', 'content-length', Buffer.byteLength(body), 'x-request-id', requestId, 'cache-control', 'no-store'];
  if (retryAfterSeconds !== undefined) headers.push('retry-after', retryAfterSeconds);
  if (closeConnection) headers.push('connection', 'close');
  res.writeHead(entry.status, headers as string[]);
  res.end(body);
}

/** The same body for a raw socket (client errors, refused upgrades), then the socket is ended. */
export function rawErrorResponse(code: ErrorCode, requestId = ''): string {
  const entry = ERROR_CATALOGUE[code];
  const body = `{"error":{"code":"${code}","message":"${entry.message}","requestId":${JSON.stringify(requestId)}}}`;
  return `HTTP/1.1 ${entry.status} ${STATUS_CODES[entry.status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
