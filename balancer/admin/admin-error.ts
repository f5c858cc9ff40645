import type { Response } from 'express';

/**
 * The admin API's error codes (docs/errors.md, "Admin API"). They are not in
 * the proxy's catalogue (common/errors.ts): only operators and their tools
 * see them, never the clients of the proxy.
 */
export type AdminErrorCode =
  | 'SWY_ADMIN_BAD_REQUEST'
  | 'SWY_ADMIN_BAD_HOST'
  | 'SWY_ADMIN_MISDIRECTED'
  | 'SWY_ADMIN_CROSS_SITE'
  | 'SWY_ADMIN_CONTENT_TYPE'
  | 'SWY_ADMIN_UNAUTHORIZED'
  | 'SWY_ADMIN_STREAMS_FULL'
  | 'SWY_ADMIN_UNKNOWN_BACKEND'
  | 'SWY_ADMIN_NOT_FOUND'
  | 'SWY_ADMIN_INTERNAL'
  | 'SWY_REGISTRY_CONFLICT'
  | 'SWY_REGISTRY_UNAVAILABLE';

/** Answers `{"error":{"code","message"}}` with `status` and optional extra headers. */
export function sendAdminError(res: Response, status: number, code: AdminErrorCode, message: string, headers: Record<string, string> = {}): void {
  res
    .status(status)
    .set({ 'cache-control': 'no-store', ...headers })
    .json({ error: { code, message } });
}
