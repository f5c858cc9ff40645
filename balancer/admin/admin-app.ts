import { timingSafeEqual, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry as MetricsRegistry } from 'prom-client';
import { parseBackendSpec, isBackendId, type BackendState } from '../../common/backend.js';
import type { Logger } from '../../common/logger.js';
import { RegistryUnavailableError } from '../../common/registry/registry.js';
import type { BalancerView, BackendFacts, UpstreamView } from '../balancer-view.js';
import { buildSnapshot, type StatsSnapshot } from '../stats/snapshot.js';
import { STRATEGY_NAMES } from '../strategies/index.js';
import { liveStrategyFactory } from '../strategy-setup.js';
import { LiveStream } from './live-stream.js';
import type { ViewMetric } from '../../common/view-metric.js';
import { createBalancerMetrics } from './metrics.js';

export interface AdminOptions {
  /** Bearer token required for changes; none means changes are open (bind to loopback). */
  readonly token?: string;
  readonly logger: Logger;
  readonly extraViews?: readonly ViewMetric[];
  /** Builds a strategy for PUT /strategy; defaults to liveStrategyFactory({}) (options checked, no config). */
  readonly strategyFactory?: (name: string, options: unknown) => { readonly name: string };
  readonly now?: () => number;
  readonly processMetrics?: boolean;
}

export interface Admin {
  readonly app: express.Express;
  readonly metrics: MetricsRegistry;
  readonly live: LiveStream;
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
      ? { outcome: h.last.outcome, at: new Date(h.last.at).toISOString(), durationMs: h.last.durationMs, statusCode: h.last.statusCode ?? null, error: h.last.error ?? null }
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
  app.use(express.json({ limit: '16kb' }));
  const requireToken = bearerGuard(opts.token);
  const now = opts.now ?? Date.now;
  const facts = (u: UpstreamView): BackendFacts => lb.facts(u);
  const snapshot = (): StatsSnapshot => buildSnapshot(lb, now(), facts, lb.sections());
  const metrics = createBalancerMetrics(lb, { facts, extraViews: opts.extraViews, processMetrics: opts.processMetrics });
  const live = new LiveStream(snapshot, lb.events, 1000, lb.collect ? () => lb.collect!() : undefined);
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

  app.get('/', (_req, res) => {
    res.sendFile('index.html', { root: DASHBOARD_DIR, headers: { 'cache-control': 'no-store' } });
  });
  app.use('/dashboard', express.static(DASHBOARD_DIR, { index: false, maxAge: 0 }));

  app.get(
    '/stats',
    fresh((_req, res) => {
      res.set('cache-control', 'no-store').json(snapshot());
    }),
  );

  app.get('/events', (req, res) => {
    live.attach(req, res);
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
      const a = lb.admissionStatus();
      if (!a) {
        res.json({ enabled: false, inFlight: lb.inFlight, queued: 0, limit: null, rejected: 0, timedOut: 0 });
        return;
      }
      res.json({ enabled: true, ...a });
    }),
  );

  app.get('/strategy', (_req, res) => {
    res.json({ strategy: lb.strategy.name, available: STRATEGY_NAMES });
  });

  app.put('/strategy', requireToken, (req, res) => {
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
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not ready',
      listening: lb.listening,
      registrySynced: reg.synced,
      registryConnected: reg.connected,
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
      res.json({ instanceId: lb.settings.instanceId, strategy: lb.strategy.name, registryVersion: lb.upstreams.version, backends: lb.upstreams.all.map(describe) });
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

  app.post('/backends', requireToken, async (req, res, next) => {
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

  app.put('/backends/:id', requireToken, async (req, res, next) => {
    const body = req.body && typeof req.body === 'object' ? req.body : {};
    const parsed = parseBackendSpec({ ...body, id: req.params.id });
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
  app.post('/backends/:id/drain', requireToken, stateRoute('draining'));
  app.post('/backends/:id/activate', requireToken, stateRoute('active'));

  app.delete('/backends/:id', requireToken, async (req, res, next) => {
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
    res.status(404).json({ error: { code: 'SWY_ADMIN_NOT_FOUND', message: 'no such admin route' } });
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    if (err instanceof RegistryUnavailableError) {
      res.status(503).json({ error: { code: err.code, message: err.message } });
      return;
    }
    const e = err as { status?: number; type?: string; message?: string };
    if (e.status && e.status >= 400 && e.status < 500) {
      res.status(e.status).json({ error: { code: 'SWY_ADMIN_BAD_REQUEST', message: e.type === 'entity.parse.failed' ? 'body is not valid JSON' : (e.message ?? 'bad request') } });
      return;
    }
    opts.logger.error({ err }, 'admin request failed');
    res.status(500).json({ error: { code: 'SWY_INTERNAL', message: 'internal error' } });
  });

  return { app, metrics, live, snapshot, close: () => live.close() };
}

function badRequest(res: Response, reason: string): void {
  res.status(400).json({ error: { code: 'SWY_ADMIN_BAD_REQUEST', message: reason } });
}

function notFound(res: Response, id: string): void {
  res.status(404).json({ error: { code: 'SWY_ADMIN_UNKNOWN_BACKEND', message: `no backend with id '${id}'` } });
}

/** Checks `Authorization: Bearer <token>` in constant time; open when no token is configured. */
function bearerGuard(token: string | undefined) {
  const expected = token ? createHash('sha256').update(token).digest() : undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!expected) return next();
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    const ok = timingSafeEqual(createHash('sha256').update(given).digest(), expected);
    if (!ok) {
      res.status(401).set('www-authenticate', 'Bearer realm="switchyard-admin"').json({ error: { code: 'SWY_ADMIN_UNAUTHORIZED', message: 'a valid bearer token is required' } });
      return;
    }
    next();
  };
}
