import { hostname } from 'node:os';
import { ConfigError, loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../common/config/options.js';
import { loadRedisTarget, redisOptions } from '../common/config/redis-options.js';
import { boolean, decimal, duration, oneOf, port, text } from '../common/config/values.js';
import type { RedisTarget } from '../common/registry/redis-connection.js';
import { LOG_LEVELS } from '../common/logger.js';
import { DOCKER_HOST_EXPECTED, dockerEndpointOption, type DockerEndpoint } from './docker-endpoint.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export const CONTROLLER_OPTIONS = {
  network: option({
    type: text({ min: 1, max: 128, pattern: NAME, expected: 'a Docker network name such as switchyard' }),
    flag: 'network',
    env: ['SWITCHYARD_NETWORK'],
    help: 'Docker network the balancer reaches backends on (required). A labelled container that is not on it is reported as an error and never registered.',
    group: 'Docker',
  }),
  labelPrefix: option({
    type: text({ min: 1, max: 64, pattern: /^[a-z0-9][a-z0-9_.-]*$/, expected: 'lower-case letters, digits and _ . -' }),
    flag: 'label-prefix',
    env: ['SWITCHYARD_LABEL_PREFIX'],
    default: 'switchyard',
    help: 'Prefix of the container labels read: <prefix>.enable=true, <prefix>.port, <prefix>.weight, <prefix>.id.',
    group: 'Docker',
  }),
  project: option({
    type: text({ min: 1, max: 128, pattern: NAME, expected: 'a Compose project name' }),
    flag: 'project',
    env: ['SWITCHYARD_PROJECT'],
    help: 'Only containers of this Compose project (label com.docker.compose.project), or with --swarm services of this stack (com.docker.stack.namespace); default: every one.',
    group: 'Docker',
  }),
  dockerHost: option({
    type: text({ min: 1, max: 512, expected: DOCKER_HOST_EXPECTED }),
    flag: 'docker-host',
    env: ['SWITCHYARD_DOCKER_HOST', 'DOCKER_HOST'],
    default: 'unix:///var/run/docker.sock',
    help: 'Docker Engine API: a unix socket, or tcp://host:port of a filtering socket proxy (the Compose stack uses tcp://docker-api:2375; TLS is not spoken).',
    group: 'Docker',
  }),
  swarm: option({
    type: boolean(),
    flag: 'swarm',
    env: ['SWITCHYARD_SWARM'],
    default: false,
    help: "Follow Docker Swarm services and their tasks instead of containers (run on a manager): every task of a service labelled <prefix>.enable=true (deploy.labels) is a backend while it runs, draining as soon as its desired state leaves running. --project then names the stack, --network the stack's overlay network (e.g. switchyard_backends).",
    group: 'Docker',
  }),
  swarmPoll: option({
    type: duration(100, 60_000),
    flag: 'swarm-poll',
    env: ['SWITCHYARD_SWARM_POLL'],
    default: 1000,
    help: 'How often the Swarm tasks are listed (--swarm): the engine emits no task events, so this bounds how late a drain or a new task is seen.',
    group: 'Docker',
  }),
  autoscale: option({
    type: boolean(),
    flag: 'autoscale',
    env: ['SWITCHYARD_AUTOSCALE'],
    default: false,
    help: "Scale Swarm services labelled <prefix>.autoscale.min, .max and .target-inflight or .target-rps by the load the balancers report, with the Kubernetes HPA's rules (needs --swarm, and a Docker API proxy with --allow-replica-updates). Decisions are logged and counted in /metrics.",
    group: 'Autoscaling',
  }),
  autoscaleInterval: option({
    type: duration(500, 600_000),
    flag: 'autoscale-interval',
    env: ['SWITCHYARD_AUTOSCALE_INTERVAL'],
    default: 15_000,
    help: 'Time between two scaling decisions (the HPA: 15 s).',
    group: 'Autoscaling',
  }),
  autoscaleTolerance: option({
    type: decimal(0, 1),
    flag: 'autoscale-tolerance',
    env: ['SWITCHYARD_AUTOSCALE_TOLERANCE'],
    default: 0.1,
    help: 'Relative band around the target in which the replica count stays as it is.',
    group: 'Autoscaling',
  }),
  autoscaleUpWindow: option({
    type: duration(0, 3_600_000),
    flag: 'autoscale-up-window',
    env: ['SWITCHYARD_AUTOSCALE_UP_WINDOW'],
    default: 0,
    help: 'A scale-up takes the lowest recommendation of this window (0: at once).',
    group: 'Autoscaling',
  }),
  autoscaleDownWindow: option({
    type: duration(0, 3_600_000),
    flag: 'autoscale-down-window',
    env: ['SWITCHYARD_AUTOSCALE_DOWN_WINDOW'],
    default: 300_000,
    help: 'A scale-down takes the highest recommendation of this window, so a short dip removes nothing (the HPA: 5 min).',
    group: 'Autoscaling',
  }),
  resyncInterval: option({
    type: duration(100, 3_600_000),
    flag: 'resync-interval',
    env: ['SWITCHYARD_RESYNC_INTERVAL'],
    default: 10_000,
    help: 'Time between full reconciles that repair anything an event missed.',
    group: 'Docker',
  }),

  ...redisOptions(
    'Redis registry URL (redis://user:password@host:port/db); required, unless --redis-sentinels names the sentinels (the URL then gives only the credentials).',
  ),
  redisPrefix: option({
    type: text({ min: 1, max: 64, pattern: /^[A-Za-z0-9:_{}.-]+$/, expected: 'letters, digits and : _ - . { }' }),
    flag: 'redis-prefix',
    env: ['SWITCHYARD_REDIS_PREFIX'],
    default: 'switchyard:',
    help: 'Prefix of every registry key in Redis.',
    group: 'Registry',
  }),
  registryPoll: option({
    type: duration(50, 600_000),
    flag: 'registry-poll',
    env: ['SWITCHYARD_REGISTRY_POLL'],
    default: 500,
    help: 'How often the registry version is polled.',
    group: 'Registry',
  }),
  leaseTtl: option({
    type: duration(1000, 600_000),
    flag: 'lease-ttl',
    env: ['SWITCHYARD_LEASE_TTL'],
    default: 6000,
    help: 'Lifetime of the writer lease in Redis; a standby controller takes over at most this long after the writer stops renewing it.',
    group: 'Registry',
  }),
  instanceId: option({
    type: text({ min: 1, max: 128 }),
    flag: 'instance-id',
    env: ['SWITCHYARD_INSTANCE_ID'],
    help: 'Name of this controller in logs and in the lease (default: hostname-pid).',
    group: 'Registry',
  }),

  metricsPort: option({
    type: port(),
    flag: 'metrics-port',
    env: ['SWITCHYARD_METRICS_PORT'],
    default: 9092,
    help: "Port of the controller's /metrics (Prometheus) and /healthz.",
    group: 'Observability',
  }),
  metricsHost: option({
    type: text({ min: 1 }),
    flag: 'metrics-host',
    env: ['SWITCHYARD_METRICS_HOST'],
    default: '127.0.0.1',
    help: 'Address /metrics binds to (the Compose stack sets 0.0.0.0 and publishes nothing).',
    group: 'Observability',
  }),
  logLevel: option({
    type: oneOf(LOG_LEVELS),
    flag: 'log-level',
    env: ['SWITCHYARD_LOG_LEVEL', 'LOG_LEVEL'],
    default: 'info',
    help: 'Log level.',
    group: 'Observability',
  }),
} as const;

export interface ControllerConfig extends OptionValues<typeof CONTROLLER_OPTIONS> {
  readonly network: string;
  /** The registry's Redis: --redis, or the primary --redis-sentinels name. */
  readonly redisTarget: RedisTarget;
  readonly instanceId: string;
  readonly docker: DockerEndpoint;
}

export function controllerHelp(): string {
  return renderHelp(CONTROLLER_OPTIONS, {
    usage: 'switchyard controller --network <name> --redis <url> [options]',
    summary:
      'Keep the registry equal to the running, healthy, labelled containers: registers them on start, drains them on the stop signal, deregisters them when they die, pause or turn unhealthy. Several controllers may run; one holds the writer lease.',
    footer: 'Example: switchyard controller --network switchyard --redis redis://redis:6379',
  });
}

/** Flags, environment and optional config file into one validated, frozen config. */
export function loadControllerConfig(sources: OptionSources): { readonly help: true } | { readonly help: false; readonly config: ControllerConfig } {
  const { values, help } = loadOptions(CONTROLLER_OPTIONS, sources);
  if (help) return { help };
  if (!values.network) throw new ConfigError('--network (or SWITCHYARD_NETWORK) is required: name the Docker network the balancer reaches backends on');
  if (values.autoscale && !values.swarm) throw new ConfigError('--autoscale needs --swarm: it scales Swarm services');
  const redisTarget = loadRedisTarget(values);
  if (!redisTarget) throw new ConfigError('--redis (or REDIS_URL) or --redis-sentinels is required: the controller writes the registry in Redis');
  const docker = dockerEndpointOption(values.dockerHost);
  const config: ControllerConfig = Object.freeze({
    ...values,
    docker,
    network: values.network,
    redisTarget,
    instanceId: values.instanceId ?? `${hostname()}-${process.pid}`,
  });
  return { help, config };
}
