import type { NextFunction, Request, Response } from 'express';
import { sendAdminError } from './admin-error.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const SAME_SITE_FETCH = new Set(['same-origin', 'none']);
const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/**
 * Cross-site request forgery rules for state changes (any method but GET,
 * HEAD and OPTIONS), checked before the credentials:
 *  - an `Origin` other than the admin's own (scheme http or https, host and
 *    port of the request's Host) or a `Sec-Fetch-Site` other than
 *    same-origin / none: 403 SWY_ADMIN_CROSS_SITE;
 *  - neither `Content-Type: application/json` nor `Authorization`: 415
 *    SWY_ADMIN_CONTENT_TYPE. A page on another site can send neither without
 *    a CORS preflight, which this API never grants; curl and scripts send one.
 */
export function crossSiteGuard() {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (SAFE_METHODS.has(req.method)) return next();
    const fetchSite = req.headers['sec-fetch-site'];
    if (fetchSite !== undefined && !SAME_SITE_FETCH.has(fetchSite.trim().toLowerCase())) {
      sendAdminError(res, 403, 'SWY_ADMIN_CROSS_SITE', `a change requested by another site (Sec-Fetch-Site: ${fetchSite}) is refused`);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !isOwnOrigin(origin, req.headers.host ?? '')) {
      sendAdminError(res, 403, 'SWY_ADMIN_CROSS_SITE', 'a change requested by another origin is refused');
      return;
    }
    if (req.headers.authorization === undefined && !isJson(req.headers['content-type'])) {
      sendAdminError(res, 415, 'SWY_ADMIN_CONTENT_TYPE', 'a change needs Content-Type: application/json or an Authorization header');
      return;
    }
    next();
  };
}

/** True when `origin` is http(s)://<host> for the request's Host (default ports made explicit on both sides). */
export function isOwnOrigin(origin: string, host: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file:, redirects) and anything unparsable
  }
  const defaultPort = DEFAULT_PORTS[url.protocol];
  if (defaultPort === undefined || url.pathname !== '/' || url.username || url.password) return false;
  return withPort(url.host, defaultPort) === withPort(host.trim().toLowerCase(), defaultPort);
}

function withPort(authority: string, defaultPort: string): string {
  const a = authority.toLowerCase();
  return /:\d+$/.test(a) && !a.endsWith(']') ? a : `${a}:${defaultPort}`;
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  return contentType.split(';')[0]!.trim().toLowerCase() === 'application/json';
}
