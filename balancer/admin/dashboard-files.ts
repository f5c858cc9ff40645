import { STATUS_CODES } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../common/logger.js';
import { sendAdminError } from './admin-error.js';

/**
 * A dashboard file name: one path segment of letters, digits, `.`, `_` and
 * `-`, not starting with a dot. Anything else (`..`, a slash, NUL, an encoded
 * separator, a dotfile, a name over 100 characters) never reaches the
 * filesystem.
 */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** What a request for a missing or refused name answers: no path, no detail. */
const NOT_FOUND = 'no such dashboard file';

/**
 * Serves the dashboard's files from `dir`: `page(name)` for a fixed file (the
 * page at `/`), `files()` for the `/dashboard/<name>` mount. A file that is not
 * there is a 404 `SWY_ADMIN_NOT_FOUND`; a name that cannot be decoded a 400;
 * any other failure (permissions, a directory in a file's place) a 500 whose
 * body says nothing internal, with the detail in the log at error level. A
 * missing page at `/` is a 404 too, and logged at error level: the install is
 * broken (issue 13: an image built without the dashboard's files).
 */
export function dashboardFiles(dir: string, logger: Logger): { page(name: string): RequestHandler; files(): RequestHandler } {
  /** `required`: the file is part of the install (the page at `/`), so its absence is logged as the fault it is. */
  const send = (name: string, res: Response, headers: Record<string, string>, required: boolean): void => {
    res.sendFile(name, { root: dir, dotfiles: 'deny', acceptRanges: false, headers }, (err?: Error) => {
      if (!err) return;
      const e = err as Error & { status?: number; statusCode?: number; code?: string };
      if (res.headersSent || e.code === 'ECONNABORTED') {
        // The client went away mid-file, or the file broke off: nothing left to answer.
        logger.debug({ err, file: name }, 'dashboard file not sent in full');
        return;
      }
      const status = e.status ?? e.statusCode ?? 500;
      if (status === 404 || status === 403) {
        if (required) logger.error({ err, file: name, dir }, 'dashboard page missing from this installation');
        return sendAdminError(res, 404, 'SWY_ADMIN_NOT_FOUND', NOT_FOUND);
      }
      if (status >= 400 && status < 500) return sendAdminError(res, status, 'SWY_ADMIN_BAD_REQUEST', (STATUS_CODES[status] ?? 'bad request').toLowerCase());
      logger.error({ err, file: name, dir }, 'dashboard file could not be sent');
      sendAdminError(res, 500, 'SWY_ADMIN_INTERNAL', 'internal error');
    });
  };
  return {
    page: (name) => (_req, res) => send(name, res, { 'cache-control': 'no-store' }, true),
    files: () => (req: Request, res: Response, next: NextFunction) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      let name: string;
      try {
        name = decodeURIComponent(req.path.slice(1));
      } catch {
        return sendAdminError(res, 400, 'SWY_ADMIN_BAD_REQUEST', 'the dashboard file name is not valid percent-encoding');
      }
      if (!FILE_NAME.test(name)) return sendAdminError(res, 404, 'SWY_ADMIN_NOT_FOUND', NOT_FOUND);
      send(name, res, { 'cache-control': 'no-cache' }, false);
    },
  };
}
