import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry as MetricsRegistry } from 'prom-client';
import { parseBackendSpec, isBackendId, type BackendState } from '../../common/backend.js';
import type { Logger } from '../../common/logger.js';
import { RegistryConflictError, RegistryUnavailableError } from '../../common/registry/registry.js';
import type { BalancerView, BackendFacts, UpstreamView } from '../balancer-view.js';
import { buildSnapshot, type StatsSnapshot } from '../stats/snapshot.js';
import { STRATEGY_NAMES } from '../strategies/index.js';
import { liveStrategyFactory } from '../routing-settings.js';
import { accessGuard } from './access-guard.js';
import { sendAdminError } from './admin-error.js';
import { crossSiteGuard } from './cross-site-guard.js';
import { dashboardFiles } from './dashboard-files.js';
import { hostGuard } from './host-guard.js';
import { LiveStream } from './live-stream.js';
import { ViewMetric } from '../../common/view-metric.js';
import { createBalancerMetrics } from './metrics.js';
import { addSessionRoutes } from './session-routes.js';
import { addEdgeRoutes } from './edge-routes.js';
import { SESSION_DEFAULTS, SessionStore } from './session-store.js';

export interface AdminOptions {
  /** Bearer token required on every route but the probes and the dashboard's page; none: open (loopback only). */
  readonly token?: string;
  /** The address the admin API binds to: a specific one is accepted in Host. */
  readonly host?: string;
  /** More names accepted in Host (loopback names always are). */
  readonly allowedHosts?: readonly string[];
  /** Limits of /events (live-stream.ts STREAM_DEFAULTS). */
  readonly stream?: { readonly maxClients?: number; readonly maxBacklogBytes?: number; readonly intervalMs?: number };
  /** Dashboard sessions (SESSION_DEFAULTS). */
  readonly sessions?: { readonly max?: number; readonly ttlMs?: number };
  readonly logger: Logger;
  readonly extraViews?: readonly ViewMetric[];
  /** Builds a strategy for PUT /strategy; defaults to liveStrategyFactory({}) (options checked, no config). */
  readonly strategyFactory?: (name: string, options: unknown) => { readonly name: string };
  readonly now?: () => number;
  readonly processMetrics?: boolean;
  /** The dashboard's files (index.html, app.js, style.css); defaults to ./dashboard/ beside this module. */
  readonly dashboardDir?: string;
}

export interface Admin {
  readonly app: express.Express;
  readonly metrics: MetricsRegistry;
  readonly live: LiveStream;
  readonly sessions: SessionStore;
  snapshot(): StatsSnapshot;
  close(): void;
}

const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url));

/** JSON view of one backend: registry facts, health and live counters. */
export function describeUpstream(u: UpstreamView, health?: BalancerView['health']): Record<string, unknown> {
  const h = health?.state(u.id);
  return {
    id: u.id,
    url: u.url,
    weight: u.spec.weight,
    state: u.spec.state,
    labels: u.spec.labels,
    health: u.health,
    healthChangedAt: new Date(u.healthChangedAt).toISOString(),
    routable: u.routable,
    inFlight: u.inFlight,
    tunnels: u.tunnels,
    requests: u.requests,
    failures: u.failures,
    responses: { '2xx': u.responses1xx2xx, '3xx': u.responses3xx, '4xx': u.responses4xx, '5xx': u.responses5xx },
    lastError: u.lastError ? { code: u.lastError.code, at: new Date(u.lastError.at).toISOString() } : null,
    lastCheck: h?.last
      ? {
          outcome: h.last.outcome,
          at: new Date(h.last.at).toISOString(),
          durationMs: h.last.durationMs,
          statusCode: h.last.statusCode ?? null,
          error: h.last.error ?? null,
        }
      : null,
  };
}

/**
 * The admin API (express): read the backends and their health, register,
 * drain, restore and deregister them through the registry, the probes
 * /healthz (process alive) and /readyz (serving traffic), /metrics
 * (Prometheus), /stats (JSON), /events (SSE) and the live dashboard at /.
 */
export function createAdmin(lb: BalancerView, opts: AdminOptions): Admin {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const now = opts.now ?? Date.now;
  const sessions = new SessionStore({ max: opts.sessions?.max ?? SESSION_DEFAULTS.max, ttlMs: opts.sessions?.ttlMs ?? SESSION_DEFAULTS.ttlMs, now });
  app.use(securityHeaders);
  app.use(hostGuard({ bindHost: opts.host, allowedHosts: opts.allowedHosts }));
  app.use(crossSiteGuard());
  app.use(accessGuard(opts.token, sessions));
  app.use(express.json({ limit: '16kb' }));
  const facts = (u: UpstreamView): BackendFacts => lb.facts(u);
  const snapshot = (): StatsSnapshot => buildSnapshot(lb, now(), facts, lb.sections());
  const live = new LiveStream({
    snapshot,
    events: lb.events,
    collect: lb.collect ? () => lb.collect!() : undefined,
    intervalMs: opts.stream?.intervalMs,
    maxClients: opts.stream?.maxClients,
    maxBacklogBytes: opts.stream?.maxBacklogBytes,
    logger: opts.logger,
  });
  const streamViews = [
    new ViewMetric('switchyard_admin_streams', 'Event streams (/events) open now.', 'gauge', () => [{ labels: {}, value: live.clients }]),
    new ViewMetric('switchyard_admin_streams_refused_total', 'Event streams refused because --admin-max-streams were open.', 'counter', () => [
      { labels: {}, value: live.refused },
    ]),
    new ViewMetric('switchyard_admin_streams_buffered_bytes', 'Bytes queued for event-stream clients that they have not read yet.', 'gauge', () => [
      { labels: {}, value: live.bufferedBytes },
    ]),
    new ViewMetric('switchyard_admin_streams_dropped_total', 'Event streams cut because their client did not read (--admin-stream-backlog).', 'counter', () => [
      { labels: {}, value: live.dropped },
    ]),
  ];
  const metrics = createBalancerMetrics(lb, { facts, extraViews: [...(opts.extraViews ?? []), ...streamViews], processMetrics: opts.processMetrics });
  addSessionRoutes(app, opts.token, sessions, opts.logger, now);
  addEdgeRoutes(app, lb, opts.logger);
  const makeStrategy = opts.strategyFactory ?? liveStrategyFactory({});
  // A cluster primary refreshes its merged view from the workers before answering a read.
  const fresh = (handler: (req: Request, res: Response) => void) => async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (lb.collect) await lb.collect();
      handler(req, res);
    } catch (err) {
      next(err);
    }
  };

  const dashboard = dashboardFiles(opts.dashboardDir ?? DASHBOARD_DIR, opts.logger);
  app.get('/', dashboard.page('index.html'));
  app.use('/dashboard', dashboard.files());

  app.get(
    '/stats',
    fresh((_req, res) => {
      res.set('cache-control', 'no-store').json(snapshot());
    }),
  );

  app.get('/events', (req, res) => {
    if (!live.attach(req, res))
      sendAdminError(res, 503, 'SWY_ADMIN_STREAMS_FULL', 'too many event streams are open (--admin-max-streams); try again shortly', { 'retry-after': '5' });
  });

  // A fault injected from outside (switchyard chaos), announced so the event log shows it beside what the balancer saw.
  app.post('/events', (req, res) => {
    const body = (req.body ?? {}) as { action?: unknown; target?: unknown; detail?: unknown };
    const text = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max && !/[\x00-\x1f\x7f]/.test(v);
    if (!text(body.action, 64)) return badRequest(res, 'action is required: 1 to 64 printable characters (kill, stop, fault, ...)');
    if (body.target !== undefined && !text(body.target, 128)) return badRequest(res, 'target: 1 to 128 printable characters');
    if (body.detail !== undefined && !text(body.detail, 256)) return badRequest(res, 'detail: 1 to 256 printable characters');
    const detail = body.detail === undefined ? body.action : `${body.action}: ${body.detail}`;
    res.status(201).json(lb.events.add('injected', body.target, detail));
  });

  app.get('/metrics', async (_req, res, next) => {
    try {
      if (lb.collect) await lb.collect();
      res.set('content-type', metrics.contentType).send(await metrics.metrics());
    } catch (err) {
      next(err);
    }
  });

  app.get(
    '/queue/status',
    fresh((_req, res) => {
      const t = lb.totals();
      const a = t.admission;
      if (!a) {
        res.json({ enabled: false, inFlight: t.inFlight, queued: 0, limit: null, rejected: 0, timedOut: 0 });
        return;
      }
      res.json({ enabled: true, ...a });
    }),
  );

  app.get('/strategy', (_req, res) => {
    res.json({ strategy: lb.strategy.name, available: STRATEGY_NAMES });
  });

  app.put('/strategy', (req, res) => {
    const body = (req.body ?? {}) as { name?: unknown; options?: unknown };
    if (typeof body.name !== 'string') return badRequest(res, 'name is required, one of: ' + STRATEGY_NAMES.join(', '));
    let strategy: { readonly name: string };
    try {
      strategy = makeStrategy(body.name, body.options);
    } catch (err) {
      return badRequest(res, (err as Error).message);
    }
    lb.setStrategy(strategy, { name: body.name, options: body.options });
    res.json({ strategy: strategy.name });
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', (_req, res) => {
    const reg = lb.registry.status();
    const ready = lb.listening && reg.synced;
    // Why the registry holds readiness back: a snapshot that cannot be read, or none loaded yet.
    const registryError =
      reg.syncError ?? (reg.synced ? null : reg.connected ? 'no registry snapshot loaded yet' : 'registry unreachable, no snapshot loaded yet');
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not ready',
      listening: lb.listening,
      registrySynced: reg.synced,
      registryConnected: reg.connected,
      registryError,
      registrySkippedEntries: reg.skippedEntries,
      routableBackends: lb.upstreams.routable.length,
    });
  });

  app.get(
    '/info',
    fresh((_req, res) => {
      res.json(lb.info());
    }),
  );

  const describe = (u: UpstreamView): Record<string, unknown> => ({ ...describeUpstream(u, lb.health), ...facts(u) });

  app.get(
    '/backends',
    fresh((_req, res) => {
      res.json({
        instanceId: lb.profile.instanceId,
        strategy: lb.strategy.name,
        registryVersion: lb.upstreams.version,
        backends: lb.upstreams.all.map(describe),
      });
    }),
  );

  app.get(
    '/backends/:id',
    fresh((req, res) => {
      const id = String(req.params.id);
      const u = lb.upstreams.get(id);
      if (!u) return notFound(res, id);
      res.json(describe(u));
    }),
  );

  app.post('/backends', async (req, res, next) => {
    const parsed = parseBackendSpec(req.body);
    if (!parsed.ok) return badRequest(res, parsed.reason);
    if (lb.isSelf(parsed.value.url)) return badRequest(res, `url '${parsed.value.url}' is an address of this balancer: requests would loop`);
    try {
      const existed = lb.registry.current().backends.some((b) => b.id === parsed.value.id);
      await lb.registry.upsert(parsed.value);
      opts.logger.info({ backendId: parsed.value.id, url: parsed.value.url, weight: parsed.value.weight, via: 'admin' }, 'backend registered');
      res.status(existed ? 200 : 201).json({ backend: parsed.value });
    } catch (err) {
      next(err);
    }
  });

  app.put('/backends/:id', async (req, res, next) => {
    const body: unknown = req.body;
    const parsed = parseBackendSpec({ ...(body && typeof body === 'object' ? body : {}), id: req.params.id });
    if (!parsed.ok) return badRequest(res, parsed.reason);
    if (lb.isSelf(parsed.value.url)) return badRequest(res, `url '${parsed.value.url}' is an address of this balancer: requests would loop`);
    try {
      await lb.registry.upsert(parsed.value);
      res.json({ backend: parsed.value });
    } catch (err) {
      next(err);
    }
  });

  const stateRoute = (state: BackendState) => async (req: Request<{ id: string }>, res: Response, next: NextFunction) => {
    if (!isBackendId(req.params.id)) return badRequest(res, 'invalid backend id');
    try {
      const found = await lb.registry.setState(req.params.id, state);
      if (!found) return notFound(res, req.params.id);
      opts.logger.info({ backendId: req.params.id, state, via: 'admin' }, 'backend state set');
      res.json({ id: req.params.id, state });
    } catch (err) {
      next(err);
    }
  };
  app.post('/backends/:id/drain', stateRoute('draining'));
  app.post('/backends/:id/activate', stateRoute('active'));

  app.delete('/backends/:id', async (req, res, next) => {
    if (!isBackendId(req.params.id)) return badRequest(res, 'invalid backend id');
    try {
      const found = await lb.registry.remove(req.params.id);
      if (!found) return notFound(res, req.params.id);
      opts.logger.info({ backendId: req.params.id, via: 'admin' }, 'backend deregistered');
      res.status(204).end();
    } catch (err) {
      next(err);
    }
  });

  app.use((_req, res) => {
    sendAdminError(res, 404, 'SWY_ADMIN_NOT_FOUND', 'no such admin route');
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    if (err instanceof RegistryUnavailableError) return sendAdminError(res, 503, err.code, err.message);
    if (err instanceof RegistryConflictError) return sendAdminError(res, 409, err.code, err.message);
    const e = err as { status?: number; type?: string; message?: string };
    if (e.status && e.status >= 400 && e.status < 500) {
      // Only the body parser's own words describe the request; any other error's message may describe the server (a path, a stack).
      const fromParser = typeof e.type === 'string';
      if (!fromParser) opts.logger.warn({ err }, 'admin request refused');
      const message = e.type === 'entity.parse.failed' ? 'body is not valid JSON' : fromParser && e.message ? e.message : 'bad request';
      return sendAdminError(res, e.status, 'SWY_ADMIN_BAD_REQUEST', message);
    }
    opts.logger.error({ err }, 'admin request failed');
    sendAdminError(res, 500, 'SWY_ADMIN_INTERNAL', 'internal error');
  });

  return {
    app,
    metrics,
    live,
    sessions,
    snapshot,
    close: () => {
      live.close();
      sessions.clear();
    },
  };
}

function badRequest(res: Response, reason: string): void {
  sendAdminError(res, 400, 'SWY_ADMIN_BAD_REQUEST', reason);
}

function notFound(res: Response, id: string): void {
  sendAdminError(res, 404, 'SWY_ADMIN_UNKNOWN_BACKEND', `no backend with id '${id}'`);
}

/** Headers on every admin answer: no sniffing, no framing (clickjacking of the buttons), no referrer. */
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
  });
  next();
}
