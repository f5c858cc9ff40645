import type { Express, Request, Response } from 'express';
import type { Logger } from '../../common/logger.js';
import { readCookie, SESSION_COOKIE, tokenMatcher } from './access-guard.js';
import { sendAdminError } from './admin-error.js';
import type { SessionStore } from './session-store.js';

const FAILURE_LOG_EVERY_MS = 10_000;

/**
 * The dashboard's login: `POST /session {"token": "..."}` checks the admin
 * token in constant time and sets a cookie holding a fresh session id
 * (HttpOnly, SameSite=Strict, Path=/); `DELETE /session` ends it;
 * `GET /session` says whether a token is required and whether this request
 * carries a live session. The routes are open to anyone who passes the Host
 * and cross-site checks: the token is the credential here.
 */
export function addSessionRoutes(app: Express, token: string | undefined, sessions: SessionStore, logger: Logger, now: () => number = Date.now): void {
  const matches = token ? tokenMatcher(token) : undefined;
  let failures = 0;
  let lastFailureLog = 0;

  app.get('/session', (req, res) => {
    res
      .set('cache-control', 'no-store')
      .json({ tokenRequired: token !== undefined, authenticated: token === undefined || sessions.valid(readCookie(req.headers.cookie, SESSION_COOKIE)) });
  });

  app.post('/session', (req: Request, res: Response) => {
    if (!matches) return sendAdminError(res, 400, 'SWY_ADMIN_BAD_REQUEST', 'this admin API has no token (--admin-token): there is nothing to log in to');
    const given = (req.body as { token?: unknown } | undefined)?.token;
    if (typeof given !== 'string' || given.length === 0 || given.length > 1024)
      return sendAdminError(res, 400, 'SWY_ADMIN_BAD_REQUEST', 'the body must be {"token": "<admin token>"}');
    if (!matches(given)) {
      failures++;
      if (now() - lastFailureLog >= FAILURE_LOG_EVERY_MS) {
        logger.warn({ failures, remoteAddress: req.socket.remoteAddress }, 'admin login refused: wrong token');
        lastFailureLog = now();
        failures = 0;
      }
      return sendAdminError(res, 401, 'SWY_ADMIN_UNAUTHORIZED', 'wrong admin token');
    }
    sessions.revoke(readCookie(req.headers.cookie, SESSION_COOKIE));
    const id = sessions.create();
    logger.info({ remoteAddress: req.socket.remoteAddress, sessions: sessions.size }, 'admin dashboard login');
    res
      .status(204)
      .set('cache-control', 'no-store')
      .set('set-cookie', `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(sessions.ttlMs / 1000)}`)
      .end();
  });

  app.delete('/session', (req, res) => {
    sessions.revoke(readCookie(req.headers.cookie, SESSION_COOKIE));
    res.status(204).set('cache-control', 'no-store').set('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`).end();
  });
}
