import { hostname } from 'node:os';
import { parseBackendList, type BackendSpec } from '../common/backend.js';
import { ConfigError, loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../common/config/options.js';
import { boolean, decimal, duration, integer, listOf, oneOf, port, redisUrl, text } from '../common/config/values.js';
import { LOG_LEVELS } from '../common/logger.js';
import { ENGINE_NAMES } from './forward/forwarder.js';
import { STRATEGY_NAMES } from './strategies/index.js';

export const BALANCER_OPTIONS = {
  port: option({ type: port(), flag: 'port', env: ['SWITCHYARD_PORT'], default: 9090, help: 'Port the proxy listens on.', group: 'Proxy' }),
  host: option({ type: text({ min: 1 }), flag: 'host', env: ['SWITCHYARD_HOST'], default: '0.0.0.0', help: 'Address the proxy binds to.', group: 'Proxy' }),
  backends: option({
    type: listOf(text({ min: 1 }), 'backend URLs, each optionally id=URL'),
    flag: 'backends',
    env: ['SWITCHYARD_BACKENDS'],
    default: [] as string[],
    help: 'Static backends written into the registry at start, e.g. http://127.0.0.1:8081,b2=http://127.0.0.1:8082.',
    group: 'Proxy',
  }),
  strategy: option({ type: oneOf(STRATEGY_NAMES), flag: 'strategy', env: ['SWITCHYARD_STRATEGY'], default: 'round-robin', help: 'Load-balancing strategy.', group: 'Proxy' }),
  engine: option({ type: oneOf(ENGINE_NAMES), flag: 'engine', env: ['SWITCHYARD_ENGINE'], default: 'undici', help: 'Forwarding engine: undici (fast, default) or http-proxy (compatibility).', group: 'Proxy' }),
  retries: option({ type: integer(0, 10), flag: 'retries', env: ['SWITCHYARD_RETRIES'], default: 2, help: 'Further attempts on other backends after a connect failure, or a reset of an idempotent request without body.', group: 'Proxy' }),
  connectTimeout: option({ type: duration(1, 60_000), flag: 'connect-timeout', env: ['SWITCHYARD_CONNECT_TIMEOUT'], default: 2000, help: 'Time allowed to open a connection to a backend; exceeded: try another backend, else 504.', group: 'Proxy' }),
  upstreamTimeout: option({ type: duration(1, 3_600_000), flag: 'upstream-timeout', env: ['SWITCHYARD_UPSTREAM_TIMEOUT'], default: 30_000, help: 'Time allowed for a backend to start its response; exceeded: 504.', group: 'Proxy' }),
  upstreamIdleTimeout: option({ type: duration(1, 3_600_000), flag: 'upstream-idle-timeout', env: ['SWITCHYARD_UPSTREAM_IDLE_TIMEOUT'], default: 60_000, help: 'Longest pause allowed between two chunks of a response body.', group: 'Proxy' }),
  backendConnections: option({ type: integer(1, 65_535), flag: 'backend-connections', env: ['SWITCHYARD_BACKEND_CONNECTIONS'], default: 256, help: 'Most connections kept open to one backend; more requests wait for a free one.', group: 'Proxy' }),
  backendHeader: option({ type: boolean(), flag: 'backend-header', env: ['SWITCHYARD_BACKEND_HEADER'], default: true, help: 'Add X-Backend: <id> to responses (--no-backend-header to hide backend ids).', group: 'Proxy' }),
  trustForwarded: option({ type: boolean(), flag: 'trust-forwarded', env: ['SWITCHYARD_TRUST_FORWARDED'], default: false, help: "Keep the client's X-Forwarded-* headers and append to them (only behind a trusted proxy).", group: 'Proxy' }),
  maxHeaderSize: option({ type: integer(1024, 1_048_576), flag: 'max-header-size', env: ['SWITCHYARD_MAX_HEADER_SIZE'], default: 16_384, help: 'Largest request head accepted, in bytes; larger gets 431.', group: 'Proxy' }),
  keepAliveTimeout: option({ type: duration(0, 600_000), flag: 'keepalive-timeout', env: ['SWITCHYARD_KEEPALIVE_TIMEOUT'], default: 5000, help: 'How long an idle client connection is kept open.', group: 'Proxy' }),
  shutdownTimeout: option({ type: duration(0, 600_000), flag: 'shutdown-timeout', env: ['SWITCHYARD_SHUTDOWN_TIMEOUT'], default: 10_000, help: 'On SIGTERM, how long in-flight requests may take to finish.', group: 'Proxy' }),
  instanceId: option({ type: text({ min: 1, max: 128 }), flag: 'instance-id', env: ['SWITCHYARD_INSTANCE_ID'], help: 'Name of this balancer in logs and the admin API (default: hostname-pid).', group: 'Proxy' }),

  healthChecks: option({ type: boolean(), flag: 'health-checks', env: ['SWITCHYARD_HEALTH_CHECKS'], default: true, help: 'Actively check backends; --no-health-checks routes to every registered backend.', group: 'Health checks' }),
  healthPath: option({ type: text({ min: 1, pattern: /^\//, expected: 'a path starting with /' }), flag: 'health-path', env: ['SWITCHYARD_HEALTH_PATH'], default: '/health', help: 'Path requested on each backend; 2xx or 3xx passes.', group: 'Health checks' }),
  healthInterval: option({ type: duration(50, 3_600_000), flag: 'health-interval', env: ['SWITCHYARD_HEALTH_INTERVAL'], default: 2000, help: 'Time between checks of a settled backend (HAProxy inter).', group: 'Health checks' }),
  healthFastInterval: option({ type: duration(50, 3_600_000), flag: 'health-fast-interval', env: ['SWITCHYARD_HEALTH_FAST_INTERVAL'], default: 500, help: 'Time between checks while a backend is changing state, or after live traffic saw it fail (HAProxy fastinter).', group: 'Health checks' }),
  healthTimeout: option({ type: duration(10, 600_000), flag: 'health-timeout', env: ['SWITCHYARD_HEALTH_TIMEOUT'], default: 1000, help: 'A check not answered in this time fails.', group: 'Health checks' }),
  healthRise: option({ type: integer(1, 100), flag: 'health-rise', env: ['SWITCHYARD_HEALTH_RISE'], default: 2, help: 'Consecutive passes that bring an unhealthy backend back.', group: 'Health checks' }),
  healthFall: option({ type: integer(1, 100), flag: 'health-fall', env: ['SWITCHYARD_HEALTH_FALL'], default: 3, help: 'Consecutive failures that take a healthy backend out (a refused connection takes it out at once).', group: 'Health checks' }),

  redis: option({ type: redisUrl(), flag: 'redis', env: ['REDIS_URL', 'SWITCHYARD_REDIS_URL'], help: 'Redis registry URL; without it the registry is in memory.', group: 'Registry' }),
  redisPrefix: option({ type: text({ min: 1, max: 64, pattern: /^[A-Za-z0-9:_{}.-]+$/, expected: 'letters, digits and : _ - . { }' }), flag: 'redis-prefix', env: ['SWITCHYARD_REDIS_PREFIX'], default: 'switchyard:', help: 'Prefix of every registry key in Redis.', group: 'Registry' }),
  registryPoll: option({ type: duration(50, 600_000), flag: 'registry-poll', env: ['SWITCHYARD_REGISTRY_POLL'], default: 500, help: 'How often the registry version is polled to catch changes whose pub/sub message was lost.', group: 'Registry' }),

  adminPort: option({ type: port(), flag: 'admin-port', env: ['SWITCHYARD_ADMIN_PORT'], default: 9091, help: 'Port of the admin API.', group: 'Admin' }),
  adminHost: option({ type: text({ min: 1 }), flag: 'admin-host', env: ['SWITCHYARD_ADMIN_HOST'], default: '127.0.0.1', help: 'Address the admin API binds to; keep it private or set a token.', group: 'Admin' }),
  adminToken: option({ type: text({ min: 8, expected: 'a token of at least 8 characters' }), flag: 'admin-token', env: ['SWITCHYARD_ADMIN_TOKEN'], help: 'Bearer token required for admin changes (register, drain, deregister).', group: 'Admin' }),

  explain: option({ type: boolean(), flag: 'explain', env: ['SWITCHYARD_EXPLAIN'], default: false, help: 'Add X-LB-Decision to every response: strategy, candidates, the pick and why others were skipped.', group: 'Observability' }),
  explainHeader: option({ type: text({ min: 1, max: 64, pattern: /^[A-Za-z0-9-]+$/, expected: 'a header name' }), flag: 'explain-header', env: ['SWITCHYARD_EXPLAIN_HEADER'], help: 'A request header (e.g. x-lb-explain) that asks for X-LB-Decision on that request only.', group: 'Observability' }),
  accessLog: option({ type: boolean(), flag: 'access-log', env: ['SWITCHYARD_ACCESS_LOG'], default: false, help: 'Log one JSON line per request (component "access").', group: 'Observability' }),
  accessLogSample: option({ type: decimal(0, 1), flag: 'access-log-sample', env: ['SWITCHYARD_ACCESS_LOG_SAMPLE'], default: 1, help: 'Share of requests the access log records.', group: 'Observability' }),

  logLevel: option({ type: oneOf(LOG_LEVELS), flag: 'log-level', env: ['SWITCHYARD_LOG_LEVEL', 'LOG_LEVEL'], default: 'info', help: 'Log level; nothing is logged per request at info (the access log is separate).', group: 'Observability' }),
} as const;

export type BalancerOptionValues = OptionValues<typeof BALANCER_OPTIONS>;

export interface BalancerConfig extends BalancerOptionValues {
  readonly instanceId: string;
  readonly staticBackends: readonly BackendSpec[];
}

export const BALANCER_HELP = {
  usage: 'switchyard balancer [options]',
  summary: 'Run the load balancer: an HTTP reverse proxy that follows the backend registry, checks backend health and retries failed connections elsewhere.',
  footer: 'Example: switchyard balancer --backends http://127.0.0.1:8081,http://127.0.0.1:8082 --port 9090',
};

export function balancerHelp(): string {
  return renderHelp(BALANCER_OPTIONS, BALANCER_HELP);
}

/** Flags, environment and optional config file into one validated, frozen config. */
export function loadBalancerConfig(sources: OptionSources): { config: BalancerConfig; help: boolean } {
  const { values, help } = loadOptions(BALANCER_OPTIONS, sources);
  let staticBackends: BackendSpec[];
  try {
    staticBackends = parseBackendList(values.backends.join(','));
  } catch (err) {
    throw new ConfigError(`invalid value for --backends: ${(err as Error).message}`);
  }
  if (values.healthTimeout > values.healthInterval) {
    throw new ConfigError(`--health-timeout (${values.healthTimeout}ms) must not exceed --health-interval (${values.healthInterval}ms)`);
  }
  const config: BalancerConfig = Object.freeze({
    ...values,
    instanceId: values.instanceId ?? `${hostname()}-${process.pid}`,
    staticBackends: Object.freeze(staticBackends),
  });
  return { config, help };
}
