import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { sendAdminError } from './admin-error.js';
import type { SessionStore } from './session-store.js';

export const SESSION_COOKIE = 'switchyard_admin_session';

/** Routes anyone who can reach the admin API may use: the probes and the dashboard's static page. */
export function isOpenRoute(method: string, path: string): boolean {
  if (path === '/healthz' || path === '/readyz' || path === '/session') return true;
  if (method !== 'GET' && method !== 'HEAD') return false;
  return path === '/' || path.startsWith('/dashboard/');
}

/** Compares a presented token with the configured one in constant time (both hashed first, so lengths match). */
export function tokenMatcher(token: string): (given: string) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (given) => timingSafeEqual(createHash('sha256').update(given).digest(), expected);
}

/** The value of cookie `name` in a Cookie header, if any. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * With a token configured, every route but the open ones (isOpenRoute) needs
 * `Authorization: Bearer <token>` or a live dashboard session cookie; else 401
 * with `WWW-Authenticate: Bearer`. Without a token (loopback only, or
 * --admin-insecure-no-token) everything passes.
 */
export function accessGuard(token: string | undefined, sessions: SessionStore) {
  const matches = token ? tokenMatcher(token) : undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!matches || isOpenRoute(req.method, req.path)) return next();
    const header = req.headers.authorization;
    if (header !== undefined && /^bearer /i.test(header) && matches(header.slice(7).trim())) return next();
    if (sessions.valid(readCookie(req.headers.cookie, SESSION_COOKIE))) return next();
    sendAdminError(res, 401, 'SWY_ADMIN_UNAUTHORIZED', 'a valid bearer token or dashboard session is required', {
      'www-authenticate': 'Bearer realm="switchyard-admin"',
    });
  };
}
