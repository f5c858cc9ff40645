import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { availableParallelism } from 'node:os';
import { createLogger, type Logger } from '../common/logger.js';
import { Supervisor } from '../common/lifecycle.js';
import { MemoryRegistry } from '../common/registry/memory-registry.js';
import { describeRedisTarget } from '../common/registry/redis-connection.js';
import { RedisRegistry } from '../common/registry/redis-registry.js';
import type { Registry } from '../common/registry/registry.js';
import { Balancer } from './balancer.js';
import { balancerHelp, loadBalancerConfig, type BalancerConfig } from './config.js';
import { ControlPlane } from './cluster/primary.js';
import { adminPart, edgePart, proxyPart, registryPart, startUntilSignal, tlsListener } from './lifecycle-parts.js';
import { runWorker } from './cluster/worker.js';
import { configuredAddresses } from './self-addresses.js';
import { toSettings } from './balancer-settings.js';
import { strategyFactory } from './routing-settings.js';
import { eventFeedPart, loadReporterPart } from './load-reporter.js';
import type { BalancerView } from './balancer-view.js';

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
  const registry: Registry = config.redisTarget
    ? new RedisRegistry({
        target: config.redisTarget,
        prefix: config.redisPrefix,
        pollIntervalMs: config.registryPoll,
        logger: logger.child({ component: 'registry' }),
      })
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
    self: configuredAddresses(config),
  });
  const admin = adminPart(lb, config, logger, makeStrategy);
  const supervisor = new Supervisor(logger, config.shutdownTimeout + 5000);
  supervisor.add(registryPart(registry, config, logger)).add(admin);
  const edge = edgePart(lb, config, logger);
  if (edge !== undefined) supervisor.add(edge);
  supervisor.add(proxyPart(lb, config, logger));
  addLoadReporter(supervisor, lb, config, logger);
  await startUntilSignal(supervisor, logger);
  const proxyAddr = lb.server.address() as { port: number };
  logger.info(
    {
      port: proxyAddr.port,
      host: config.host,
      adminPort: admin.address().port,
      adminHost: config.adminHost,
      engine: config.engine,
      listener: config.listener,
      strategy: config.strategy,
      registry: config.redisTarget ? describeRedisTarget(config.redisTarget) : 'memory',
      backends: registry.current().backends.length,
    },
    'balancer listening',
  );
}

/** The cluster primary: registry, health checks and admin API; the workers proxy. */
async function runPrimary(config: BalancerConfig, workers: number, registry: Registry, logger: Logger): Promise<void> {
  // The workers serve HTTPS; their certificates are checked here first, so a bad one stops the start.
  if (config.tlsPort !== undefined) tlsListener(createServer(), config, logger);
  const cp = new ControlPlane({ config, workers, registry, logger });
  const admin = adminPart(cp, config, logger, strategyFactory(config));
  const supervisor = new Supervisor(logger, config.shutdownTimeout + 10_000);
  supervisor
    .add(registryPart(registry, config, logger))
    .add(admin)
    .add({ name: 'workers', start: () => cp.start(), close: () => cp.close() });
  addLoadReporter(supervisor, cp, config, logger);
  await startUntilSignal(supervisor, logger);
  logger.info(
    {
      port: config.port,
      host: config.host,
      adminPort: admin.address().port,
      workers,
      engine: config.engine,
      listener: config.listener,
      strategy: config.strategy,
      registry: config.redisTarget ? describeRedisTarget(config.redisTarget) : 'memory',
    },
    'balancer listening',
  );
}

/** With a Redis registry: the load this balancer sends each backend goes to Redis for the autoscaler, whose decisions come back to the event log. */
function addLoadReporter(supervisor: Supervisor, view: BalancerView, config: BalancerConfig, logger: Logger): void {
  if (!config.redisTarget) return;
  supervisor.add(eventFeedPart(view, config.redisTarget, config.redisPrefix));
  if (config.loadReport === 0) return;
  supervisor.add(
    loadReporterPart({
      view,
      target: config.redisTarget,
      prefix: config.redisPrefix,
      instanceId: config.instanceId,
      intervalMs: config.loadReport,
      logger: logger.child({ component: 'load-reporter' }),
    }),
  );
}
