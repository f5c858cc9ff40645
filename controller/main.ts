import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { HttpService } from '../common/http-service.js';
import { Supervisor } from '../common/lifecycle.js';
import { createLogger } from '../common/logger.js';
import { describeRedisTarget } from '../common/registry/redis-connection.js';
import { RedisRegistry } from '../common/registry/redis-registry.js';
import { controllerHelp, loadControllerConfig } from './config.js';
import { DockerController } from './controller.js';
import { describeEndpoint } from './docker-endpoint.js';
import { DockerSource } from './docker-source.js';
import { RedisLease } from './lease.js';
import { SwarmSource } from './swarm-source.js';
import { Autoscaler } from './autoscale/autoscaler.js';
import { RedisLoadBoard } from '../common/registry/redis-load-board.js';
import { RedisEventPublisher } from '../common/registry/redis-events.js';
import { createControllerMetrics } from './metrics.js';
import { metricsHandler } from './metrics-handler.js';

/** `switchyard controller`: wires the parts, starts them in order, closes them in reverse on SIGTERM. */
export async function runController(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const loaded = loadControllerConfig({ argv, env });
  if (loaded.help) {
    process.stdout.write(controllerHelp());
    return;
  }
  const config = loaded.config;
  const logger = createLogger('controller', config.logLevel, undefined, { instance: config.instanceId });
  const registry = new RedisRegistry({
    target: config.redisTarget,
    prefix: config.redisPrefix,
    pollIntervalMs: config.registryPoll,
    logger: logger.child({ component: 'registry' }),
  });
  const lease = new RedisLease({
    target: config.redisTarget,
    key: `${config.redisPrefix}controller-lease:${config.network}`,
    holder: `${config.instanceId}-${randomBytes(3).toString('hex')}`,
    ttlMs: config.leaseTtl,
    logger: logger.child({ component: 'lease' }),
  });
  const docker = new Docker({ ...config.docker, protocol: 'socketPath' in config.docker ? undefined : 'http' });
  const source = config.swarm
    ? new SwarmSource({
        docker,
        labelPrefix: config.labelPrefix,
        project: config.project,
        pollIntervalMs: config.swarmPoll,
        logger: logger.child({ component: 'swarm' }),
      })
    : new DockerSource({ docker, labelPrefix: config.labelPrefix, project: config.project, logger: logger.child({ component: 'docker' }) });
  const controller = new DockerController({
    settings: { network: config.network, labelPrefix: config.labelPrefix, project: config.project, resyncIntervalMs: config.resyncInterval },
    source,
    registry,
    lease,
    logger: logger.child({ component: 'reconcile' }),
  });
  const loadBoard = config.autoscale ? new RedisLoadBoard({ target: config.redisTarget, prefix: config.redisPrefix, ttlMs: 5000 }) : undefined;
  const announcer = loadBoard ? new RedisEventPublisher(config.redisTarget, config.redisPrefix) : undefined;
  const autoscaler = loadBoard
    ? new Autoscaler({
        settings: {
          labelPrefix: config.labelPrefix,
          project: config.project,
          intervalMs: config.autoscaleInterval,
          defaults: { tolerance: config.autoscaleTolerance, upWindowMs: config.autoscaleUpWindow, downWindowMs: config.autoscaleDownWindow },
        },
        docker,
        loads: loadBoard,
        registry,
        lease,
        announce: (e) => announcer?.publish(e) ?? Promise.resolve(),
        logger: logger.child({ component: 'autoscale' }),
      })
    : undefined;
  const metrics = createControllerMetrics({
    instanceId: config.instanceId,
    counters: () => controller.counters(),
    autoscale: autoscaler ? () => autoscaler.counters() : undefined,
    status: () => controller.status(),
    registry,
  });
  const metricsService = new HttpService(
    'metrics',
    metricsHandler(metrics, () => controller.status()),
    { port: config.metricsPort, host: config.metricsHost, graceMs: 1000 },
  );
  const supervisor = new Supervisor(logger, 10_000);
  supervisor
    .add(metricsService)
    .add({ name: 'registry', start: () => registry.start(), close: () => registry.close() })
    .add({ name: 'lease', start: () => lease.start(), close: () => lease.close() })
    .add({ name: 'docker', start: () => source.start(), close: () => source.close() })
    .add({ name: 'controller', start: () => controller.start(), close: () => controller.close() });
  if (loadBoard && autoscaler) {
    supervisor.add({ name: 'load-board', start: () => loadBoard.start(), close: () => loadBoard.close() });
    if (announcer) supervisor.add({ name: 'announcer', start: () => announcer.start(), close: () => announcer.close() });
    supervisor.add({ name: 'autoscaler', start: () => autoscaler.start(), close: () => autoscaler.close() });
  }
  supervisor.handleSignals((code) => {
    logger.flush();
    process.exit(code);
  });
  await supervisor.start();
  logger.info(
    {
      network: config.network,
      labelPrefix: config.labelPrefix,
      project: config.project ?? null,
      registry: describeRedisTarget(config.redisTarget),
      docker: describeEndpoint(config.docker),
      source: config.swarm ? 'swarm tasks' : 'containers',
      autoscale: config.autoscale ? { intervalMs: config.autoscaleInterval, downWindowMs: config.autoscaleDownWindow } : false,
      resyncIntervalMs: config.resyncInterval,
      leaseTtlMs: config.leaseTtl,
      holder: lease.holder,
      metrics: `http://${config.metricsHost}:${metricsService.address.port}/metrics`,
    },
    'controller started',
  );
}
