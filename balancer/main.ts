import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { createLogger, type Logger } from '../common/logger.js';
import { HttpService } from '../common/http-service.js';
import { Supervisor } from '../common/lifecycle.js';
import { MemoryRegistry } from '../common/registry/memory-registry.js';
import { RedisRegistry, redactUrl } from '../common/registry/redis-registry.js';
import type { Registry } from '../common/registry/registry.js';
import { createAdmin } from './admin/admin-app.js';
import { Balancer } from './balancer.js';
import { balancerHelp, loadBalancerConfig, type BalancerConfig } from './config.js';
import { ControlPlane } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { toSettings } from './settings.js';
import { strategyFactory } from './strategy-setup.js';

/** `switchyard balancer`: wires the parts, starts them in order, closes them in reverse on SIGTERM. */
export async function runBalancer(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { config, help } = loadBalancerConfig({ argv, env });
  if (help) {
    process.stdout.write(balancerHelp());
    return;
  }
  const workers = config.workers === 'auto' ? availableParallelism() : Number(config.workers);
  if (cluster.isWorker) {
    const id = Number(process.env.SWITCHYARD_WORKER_ID ?? cluster.worker?.id ?? 0);
    await runWorker(config, workers, id, createLogger('balancer', config.logLevel, undefined, { instance: config.instanceId, worker: id }));
    return;
  }
  const logger = createLogger('balancer', config.logLevel, undefined, { instance: config.instanceId });
  const registry: Registry = config.redis
    ? new RedisRegistry({ url: config.redis, prefix: config.redisPrefix, pollIntervalMs: config.registryPoll, logger: logger.child({ component: 'registry' }) })
    : new MemoryRegistry(config.staticBackends);
  if (workers > 1) {
    await runPrimary(config, workers, registry, logger);
    return;
  }
  const makeStrategy = strategyFactory(config);
  const lb = new Balancer({
    settings: toSettings(config),
    registry,
    strategy: makeStrategy(config.strategy, undefined),
    logger,
  });
  const adminParts = createAdmin(lb, { token: config.adminToken, logger: logger.child({ component: 'admin' }), strategyFactory: makeStrategy });
  const adminHttp = new HttpService('admin', adminParts.app, { port: config.adminPort, host: config.adminHost, graceMs: 1000 });
  const admin = {
    name: 'admin',
    address: () => adminHttp.address,
    start: () => adminHttp.start(),
    close: async () => {
      adminParts.close();
      await adminHttp.close();
    },
  };
  let stopSeeding: (() => void) | undefined;
  const supervisor = new Supervisor(logger, config.shutdownTimeout + 5000);
  supervisor
    .add({
      name: 'registry',
      start: async () => {
        await registry.start();
        if (config.redis && config.staticBackends.length) stopSeeding = seedRegistry(registry, config, logger);
      },
      close: async () => {
        stopSeeding?.();
        await registry.close();
      },
    })
    .add(admin)
    .add({
      name: 'proxy',
      start: async () => {
        await lb.start();
        await lb.listen(config.port, config.host);
      },
      close: () => lb.close(),
    });
  supervisor.handleSignals((code) => {
    logger.flush();
    process.exit(code);
  });
  await supervisor.start();
  const proxyAddr = lb.server.address() as { port: number };
  logger.info(
    {
      port: proxyAddr.port,
      host: config.host,
      adminPort: admin.address().port,
      adminHost: config.adminHost,
      engine: config.engine,
      strategy: config.strategy,
      registry: config.redis ? redactUrl(config.redis) : 'memory',
      backends: registry.current().backends.length,
    },
    'balancer listening',
  );
}

/** The cluster primary: registry, health checks and admin API; the workers proxy. */
async function runPrimary(config: BalancerConfig, workers: number, registry: Registry, logger: Logger): Promise<void> {
  const cp = new ControlPlane({ config, workers, registry, logger });
  const adminParts = createAdmin(cp, { token: config.adminToken, logger: logger.child({ component: 'admin' }), strategyFactory: strategyFactory(config) });
  const adminHttp = new HttpService('admin', adminParts.app, { port: config.adminPort, host: config.adminHost, graceMs: 1000 });
  let stopSeeding: (() => void) | undefined;
  const supervisor = new Supervisor(logger, config.shutdownTimeout + 10_000);
  supervisor
    .add({
      name: 'registry',
      start: async () => {
        await registry.start();
        if (config.redis && config.staticBackends.length) stopSeeding = seedRegistry(registry, config, logger);
      },
      close: async () => {
        stopSeeding?.();
        await registry.close();
      },
    })
    .add({
      name: 'admin',
      start: () => adminHttp.start(),
      close: async () => {
        adminParts.close();
        await adminHttp.close();
      },
    })
    .add({ name: 'workers', start: () => cp.start(), close: () => cp.close() });
  supervisor.handleSignals((code) => {
    logger.flush();
    process.exit(code);
  });
  await supervisor.start();
  logger.info(
    { port: config.port, host: config.host, adminPort: adminHttp.address.port, workers, engine: config.engine, strategy: config.strategy, registry: config.redis ? redactUrl(config.redis) : 'memory' },
    'balancer listening',
  );
}

/** Writes --backends into a shared registry, retrying while Redis is away. Returns a cancel function. */
function seedRegistry(registry: Registry, config: BalancerConfig, logger: ReturnType<typeof createLogger>): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = async (): Promise<void> => {
    try {
      for (const b of config.staticBackends) await registry.upsert(b);
      logger.info({ backends: config.staticBackends.length }, 'static backends written to the registry');
    } catch {
      if (stopped) return;
      timer = setTimeout(() => void attempt(), 2000);
      timer.unref();
    }
  };
  void attempt();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
