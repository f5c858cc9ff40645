import { STATUS_CODES } from 'node:http';
import { ERROR_CATALOGUE, type ErrorCode } from '../../common/errors.js';

/**
 * The JSON body of every error the proxy answers itself, on every engine:
 * {"error":{"code":"SWY_NO_BACKEND","message":"...","requestId":"..."}}
 */
export function errorBody(code: ErrorCode, requestId: string): string {
  return `{"error":{"code":"${code}","message":"${ERROR_CATALOGUE[code].message}","requestId":${JSON.stringify(requestId)}}}`;
}

/** `HTTP/1.1 <status> <reason>` for a head the proxy writes as bytes; without a reason, Node's (`unknown` past its table, as http.Server writes). */
export function statusLine(status: number, reason?: string): string {
  return `HTTP/1.1 ${status} ${reason || STATUS_CODES[status] || 'unknown'}`;
}
