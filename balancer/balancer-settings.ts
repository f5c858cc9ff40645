import { parseRateLimitKey, parseRateLimitRules } from './edge/rate-limit-rules.js';
import type { RateLimitSettings } from './edge/rate-limiter.js';
import type { BanSettings } from './edge/ban-list.js';
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { describeRedisTarget } from '../common/registry/redis-connection.js';
import type { BalancerConfig } from './config.js';
import type { EngineName, ForwardSettings, ListenerName, PoolOptions } from './forward/forwarder.js';
import type { HealthCheckSettings } from './health/health-checker.js';
import type { AdmissionSettings } from './request-gate.js';
import type { ResilienceSettings } from './router.js';
import { resilienceSettings } from './routing-settings.js';

/** Everything a Balancer is configured with, typed once (built from the program's config by toSettings). */
export interface BalancerSettings extends ForwardSettings {
  readonly engine: EngineName;
  readonly listener: ListenerName;
  readonly pool: PoolOptions;
  readonly health: HealthCheckSettings;
  readonly maxHeaderSize: number;
  readonly keepAliveTimeoutMs: number;
  /** Listening sockets the proxy port is split into (listen-shards.ts); 1 in a cluster worker. */
  readonly listenShards: number;
  /** How long shutdown waits for in-flight requests before closing connections. */
  readonly shutdownTimeoutMs: number;
  readonly instanceId: string;
  /** Backends with their own /metrics series (the rest are summed as backend="_other"); 0 = all. */
  readonly metricsBackendLimit?: number;
  /** Add X-LB-Decision to every response. */
  readonly explain?: boolean;
  /** A request header (lowercase) that asks for X-LB-Decision on that request; off when unset. */
  readonly explainHeader?: string;
  /** Log one JSON line per request (sampled); off by default. */
  readonly accessLog?: boolean;
  readonly accessLogSample?: number;
  /** Outlier detection, breakers, retry budget, slow start, panic. */
  readonly resilience?: ResilienceSettings;
  /** A cap on requests in flight with a bounded FIFO queue; none when undefined. */
  readonly admission?: AdmissionSettings;
  /** Rate limits by client (docs/edge.md); none when undefined. */
  readonly rateLimits?: RateLimitSettings;
  /** Automatic bans (docs/edge.md); none when undefined. */
  readonly bans?: BanSettings;
}

/**
 * The Balancer's settings from the program's config. With `workers` > 1 the
 * admission cap and queue are shared out: each worker gets its part, rounded up.
 */
export function toSettings(config: BalancerConfig, workers = 1): BalancerSettings {
  const share = (n: number): number => Math.max(1, Math.ceil(n / workers));
  return {
    engine: config.engine,
    listener: config.listener,
    maxRetries: config.retries,
    requestTimeoutMs: config.requestTimeout,
    retryBodyLimit: config.retryBodyLimit,
    backendHeader: config.backendHeader,
    hsts: config.hsts > 0 ? `max-age=${Math.floor(config.hsts / 1000)}${config.hstsIncludeSubdomains ? '; includeSubDomains' : ''}` : undefined,
    httpsRedirectPort: config.httpsRedirect ? config.tlsPort : undefined,
    trustForwarded: config.trustForwarded,
    trustedProxies: config.trustedProxies,
    allowClients: config.allowClients,
    denyClients: config.denyClients,
    maxHeaderSize: config.maxHeaderSize,
    keepAliveTimeoutMs: config.keepAliveTimeout,
    // A cluster worker listens through the primary's handle (node:cluster): one socket per worker.
    listenShards: cluster.isWorker ? 1 : config.listenShards,
    shutdownTimeoutMs: config.shutdownTimeout,
    instanceId: config.instanceId,
    metricsBackendLimit: config.metricsBackendLimit,
    explain: config.explain,
    explainHeader: config.explainHeader,
    accessLog: config.accessLog,
    accessLogSample: config.accessLogSample,
    retryOnStatus: config.retryOnStatus,
    retryOnTimeout: config.retryOnTimeout,
    limits: {
      maxHeaders: config.maxHeaders,
      maxBodySize: config.maxBodySize,
      requestBuffer: config.requestBuffer,
      requestBufferTotal: share(config.requestBufferTotal),
      clientBodyTimeoutMs: config.clientBodyTimeout,
      clientSendTimeoutMs: config.clientSendTimeout,
      upgrades: config.upgradeProtocols,
      via: config.viaName ?? deploymentVia(config),
    },
    resilience: resilienceSettings(config),
    rateLimits:
      config.rateLimits.length > 0
        ? { rules: parseRateLimitRules(config.rateLimits), key: parseRateLimitKey(config.rateLimitKey), maxKeys: config.rateLimitMaxClients }
        : undefined,
    bans:
      config.banAfter > 0
        ? { after: config.banAfter, windowMs: config.banWindow, durationMs: config.banDuration, maxClients: config.rateLimitMaxClients }
        : undefined,
    admission:
      config.maxInFlight > 0
        ? {
            maxInFlight: share(config.maxInFlight),
            queueSize: config.queueSize === 0 ? 0 : share(config.queueSize),
            queueTimeoutMs: config.queueTimeout,
            adaptive: config.adaptiveConcurrency
              ? { minLimit: share(config.adaptiveMinLimit), initialLimit: Math.min(share(config.adaptiveInitialLimit), share(config.maxInFlight)) }
              : undefined,
          }
        : undefined,
    pool: {
      connections: config.backendConnections,
      connectTimeoutMs: config.connectTimeout,
      headersTimeoutMs: config.upstreamTimeout,
      bodyTimeoutMs: config.upstreamIdleTimeout,
      idleTimeoutMs: config.backendIdleTimeout,
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

/**
 * The Via pseudonym of a deployment that named none: the same for every
 * balancer (and worker) reading one registry, so a request that comes back
 * through any of them is seen as a loop, while another deployment (another
 * Redis prefix, or another host and port in memory) gets another.
 */
export function deploymentVia(config: Pick<BalancerConfig, 'redisTarget' | 'redisPrefix' | 'port'>): string {
  const identity = config.redisTarget ? `redis ${describeRedisTarget(config.redisTarget)} ${config.redisPrefix}` : `memory ${hostname()}:${config.port}`;
  return `switchyard-${createHash('sha256').update(identity).digest('hex').slice(0, 8)}`;
}
