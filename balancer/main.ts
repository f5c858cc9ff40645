import { createLogger } from '../common/logger.js';
import { HttpService } from '../common/http-service.js';
import { Supervisor } from '../common/lifecycle.js';
import { MemoryRegistry } from '../common/registry/memory-registry.js';
import { RedisRegistry, redactUrl } from '../common/registry/redis-registry.js';
import type { Registry } from '../common/registry/registry.js';
import { createAdmin } from './admin/admin-app.js';
import { Balancer } from './balancer.js';
import { balancerHelp, loadBalancerConfig, type BalancerConfig } from './config.js';
import { resilienceSettings, strategyFactory } from './strategy-setup.js';

/** `switchyard balancer`: wires the parts, starts them in order, closes them in reverse on SIGTERM. */
export async function runBalancer(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { config, help } = loadBalancerConfig({ argv, env });
  if (help) {
    process.stdout.write(balancerHelp());
    return;
  }
  const logger = createLogger('balancer', config.logLevel, undefined, { instance: config.instanceId });
  const registry: Registry = config.redis
    ? new RedisRegistry({ url: config.redis, prefix: config.redisPrefix, pollIntervalMs: config.registryPoll, logger: logger.child({ component: 'registry' }) })
    : new MemoryRegistry(config.staticBackends);
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

export function toSettings(config: BalancerConfig): ConstructorParameters<typeof Balancer>[0]['settings'] {
  return {
    engine: config.engine,
    maxRetries: config.retries,
    backendHeader: config.backendHeader,
    trustForwarded: config.trustForwarded,
    maxHeaderSize: config.maxHeaderSize,
    keepAliveTimeoutMs: config.keepAliveTimeout,
    shutdownTimeoutMs: config.shutdownTimeout,
    instanceId: config.instanceId,
    explain: config.explain,
    explainHeader: config.explainHeader,
    accessLog: config.accessLog,
    accessLogSample: config.accessLogSample,
    retryOnStatus: config.retryOnStatus,
    resilience: resilienceSettings(config),
    admission:
      config.maxInFlight > 0
        ? {
            maxInFlight: config.maxInFlight,
            queueSize: config.queueSize,
            queueTimeoutMs: config.queueTimeout,
            adaptive: config.adaptiveConcurrency ? { minLimit: config.adaptiveMinLimit, initialLimit: Math.min(config.adaptiveInitialLimit, config.maxInFlight) } : undefined,
          }
        : undefined,
    pool: {
      connections: config.backendConnections,
      connectTimeoutMs: config.connectTimeout,
      headersTimeoutMs: config.upstreamTimeout,
      bodyTimeoutMs: config.upstreamIdleTimeout,
    },
    health: {
      enabled: config.healthChecks,
      path: config.healthPath,
      intervalMs: config.healthInterval,
      fastIntervalMs: config.healthFastInterval,
      timeoutMs: config.healthTimeout,
      rise: config.healthRise,
      fall: config.healthFall,
    },
  };
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
