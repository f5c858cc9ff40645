import type { NextFunction, Request, Response } from 'express';
import { sendAdminError } from './admin-error.js';
import { hostAllowlist, hostName, type HostAllowlistOptions } from './host-allowlist.js';

/**
 * Every admin request must name the admin listener in Host (host-allowlist.ts):
 * 400 when Host is missing or malformed, 421 Misdirected Request when it names
 * another host, on every route, the probes and the dashboard included.
 */
export function hostGuard(opts: HostAllowlistOptions) {
  const allowed = hostAllowlist(opts);
  return (req: Request, res: Response, next: NextFunction): void => {
    const raw = req.headers.host;
    const name = raw === undefined ? undefined : hostName(raw);
    if (name === undefined) {
      sendAdminError(res, 400, 'SWY_ADMIN_BAD_HOST', 'the request needs a Host naming the admin API', { connection: 'close' });
      return;
    }
    if (!allowed(name, req.socket.localAddress)) {
      sendAdminError(res, 421, 'SWY_ADMIN_MISDIRECTED', `Host '${name}' does not name this admin API; add it to --admin-allowed-hosts if it should`, {
        connection: 'close',
      });
      return;
    }
    next();
  };
}
