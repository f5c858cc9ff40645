import type { Express, Response } from 'express';
import type { Logger } from '../../common/logger.js';
import type { BanList } from '../edge/ban-list.js';
import { parseRateLimitRules } from '../edge/rate-limit-rules.js';
import type { RateLimiter } from '../edge/rate-limiter.js';
import { sendAdminError } from './admin-error.js';

/** What the edge routes need of a balancer: its rate limiter and ban list (absent on a cluster primary: each worker keeps its own). */
export interface EdgeView {
  readonly gate?: { readonly rateLimiter: RateLimiter | undefined; readonly bans: BanList | undefined };
}

/**
 * Rate limits and bans on the admin API (docs/edge.md):
 *   GET /rate-limits               the rules, their clients and counts
 *   PUT /rate-limits {"rules":[…]} replaces the rules (counts start again); [] turns limits off
 *   GET /bans                      bans in force, soonest to end first
 *   DELETE /bans/:client           lifts one
 */
export function addEdgeRoutes(app: Express, view: EdgeView, logger: Logger, now: () => number = Date.now): void {
  const perWorker = (res: Response): void =>
    sendAdminError(res, 404, 'SWY_ADMIN_NOT_FOUND', 'with --workers, each worker keeps its own rate limits and bans; this balancer has none to show');

  app.get('/rate-limits', (_req, res) => {
    const limiter = view.gate?.rateLimiter;
    if (view.gate === undefined) return perWorker(res);
    res.set('cache-control', 'no-store').json(limiter === undefined ? { enabled: false, rules: [] } : { enabled: true, ...limiter.status() });
  });

  app.put('/rate-limits', (req, res) => {
    const limiter = view.gate?.rateLimiter;
    if (view.gate === undefined) return perWorker(res);
    if (limiter === undefined)
      return sendAdminError(res, 400, 'SWY_ADMIN_BAD_REQUEST', 'rate limits are off: start the balancer with --rate-limits to change them here');
    const rules = (req.body as { rules?: unknown } | undefined)?.rules;
    if (!Array.isArray(rules) || !rules.every((r) => typeof r === 'string'))
      return sendAdminError(res, 400, 'SWY_ADMIN_BAD_REQUEST', 'rules must be a list of "<prefix>=<n>/<s|m|h>[ burst <n>]"');
    let parsed;
    try {
      parsed = parseRateLimitRules(rules as string[]);
    } catch (err) {
      return sendAdminError(res, 400, 'SWY_ADMIN_BAD_REQUEST', (err as Error).message);
    }
    limiter.setRules(parsed, now());
    logger.info({ rules: parsed.map((r) => r.name), via: 'admin' }, 'rate limits replaced');
    res.set('cache-control', 'no-store').json({ enabled: true, ...limiter.status() });
  });

  app.get('/bans', (_req, res) => {
    if (view.gate === undefined) return perWorker(res);
    const bans = view.gate.bans;
    if (bans === undefined) return res.set('cache-control', 'no-store').json({ enabled: false, bans: [] });
    const t = now();
    const { after, windowMs, durationMs } = bans.settings;
    res.set('cache-control', 'no-store').json({
      enabled: true,
      after,
      windowMs,
      durationMs,
      total: bans.total,
      bans: bans
        .list(t)
        .map((b) => ({ client: b.client, reason: b.reason, until: new Date(b.until).toISOString(), secondsLeft: Math.ceil((b.until - t) / 1000) })),
    });
  });

  app.delete('/bans/:client', (req, res) => {
    const bans = view.gate?.bans;
    if (view.gate === undefined) return perWorker(res);
    if (bans === undefined || !bans.lift(req.params.client)) return sendAdminError(res, 404, 'SWY_ADMIN_NOT_FOUND', `no ban on '${req.params.client}'`);
    logger.info({ client: req.params.client, via: 'admin' }, 'ban lifted');
    res.status(204).end();
  });
}
