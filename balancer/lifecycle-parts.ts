import type { Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { HttpService } from '../common/http-service.js';
import type { NamedPart, Supervisor } from '../common/lifecycle.js';
import type { Logger } from '../common/logger.js';
import { RegistryConflictError, type Registry } from '../common/registry/registry.js';
import { redisKeys } from '../common/registry/redis-schema.js';
import { createAdmin } from './admin/admin-app.js';
import { isLoopbackName } from './admin/host-allowlist.js';
import type { Balancer } from './balancer.js';
import type { BalancerView } from './balancer-view.js';
import type { BalancerConfig } from './config.js';
import type { strategyFactory } from './routing-settings.js';
import { describe, TlsListener } from './tls/tls-listener.js';
import { H2Listener } from './forward/http2/h2-listener.js';
import { SharedEdge } from './edge/shared-edge.js';
import { RedisEdgeStore } from '../common/registry/redis-edge-store.js';
import { RedisAcmeStore } from '../common/registry/redis-acme-store.js';
import { AcmeManager } from './tls/acme/acme-manager.js';
import { SecretBox } from './tls/acme/secret-box.js';
import { ProxyProtocolGate } from './edge/proxy-protocol-gate.js';
import { peerTrusted } from './forward/client-rules.js';
import { ConfigError } from '../common/config/options.js';

/*
 * The lifecycle parts a balancer process is made of, shared by the single
 * process, the cluster primary and its workers.
 */

/** The registry as a lifecycle part; with Redis, --backends are written into it once it answers. */
export function registryPart(registry: Registry, config: BalancerConfig, logger: Logger): NamedPart {
  let stopSeeding: (() => void) | undefined;
  return {
    name: 'registry',
    start: async () => {
      await registry.start();
      if (config.redisTarget && config.staticBackends.length) {
        // The first try is waited for, so the proxy starts (and warms up) with them; later tries run in the background.
        const seeding = seedRegistry(registry, config, logger);
        stopSeeding = seeding.stop;
        await seeding.firstTry;
      }
    },
    close: async () => {
      stopSeeding?.();
      await registry.close();
    },
  };
}

/** The admin API (express) on its own port, over a single balancer or a cluster's merged view. */
export function adminPart(
  view: BalancerView,
  config: BalancerConfig,
  logger: Logger,
  makeStrategy: ReturnType<typeof strategyFactory>,
): NamedPart & { address(): AddressInfo } {
  const adminLogger = logger.child({ component: 'admin' });
  const parts = createAdmin(view, {
    token: config.adminToken,
    host: config.adminHost,
    allowedHosts: config.adminAllowedHosts,
    stream: { maxClients: config.adminMaxStreams, maxBacklogBytes: config.adminStreamBacklog, intervalMs: config.adminStreamInterval },
    sessions: { ttlMs: config.adminSessionTtl },
    logger: adminLogger,
    strategyFactory: makeStrategy,
  });
  const http = new HttpService('admin', parts.app, { port: config.adminPort, host: config.adminHost, graceMs: 1000 });
  return {
    name: 'admin',
    address: () => http.address,
    start: async () => {
      await http.start();
      if (!config.adminToken && !isLoopbackName(config.adminHost)) {
        adminLogger.warn(
          { adminHost: config.adminHost, adminPort: http.address.port },
          'admin API listening on a non-loopback address without a token (--admin-insecure-no-token): anyone who can reach it can change the backends',
        );
      }
    },
    close: async () => {
      parts.close();
      await http.close();
    },
  };
}

/**
 * The proxy: follow the registry, check health (the first round completes before it listens: warm start), listen,
 * and with --tls-port the HTTPS listener too (its certificates are loaded first: one that cannot be served fails the start),
 * with HTTP/2 on it unless --no-http2, and with --h2c-port cleartext HTTP/2; close drains them all.
 */
export function proxyPart(lb: Balancer, config: BalancerConfig, logger: Logger): NamedPart {
  const h2 = (config.http2 && config.tlsPort !== undefined) || config.h2cPort !== undefined ? h2Listener(lb, config, logger) : undefined;
  const proxied = config.proxyProtocol ? proxyProtocolGate(lb, logger) : undefined;
  const tls = config.tlsPort === undefined ? undefined : tlsListener(lb.server, config, logger, config.http2 ? h2 : undefined, proxied);
  const acme = tls !== undefined && config.acmeDomains.length > 0 ? acmeManager(tls, config, logger) : undefined;
  return {
    name: 'proxy',
    start: async () => {
      await lb.start();
      // Every connection listener is in place by now: the PROXY protocol gate goes in front of them.
      proxied?.intercept(lb.server, false);
      // The stored certificate is served, and HTTP-01 challenges answered, before any port listens.
      if (acme !== undefined) {
        await acme.start();
        lb.gate.acme = acme;
      }
      // HTTPS first: the balancer is ready (/readyz) once the proxy port listens, with the others.
      if (h2 !== undefined) lb.adopt(h2);
      if (tls !== undefined && config.tlsPort !== undefined) {
        lb.adopt(tls);
        const addr = await tls.listen(config.tlsPort, config.host);
        logger.info({ tlsPort: addr.port, http2: config.http2, certificates: describe(tls.certificates) }, 'HTTPS listening');
      }
      if (h2 !== undefined && config.h2cPort !== undefined) {
        const addr = await h2.listenCleartext(config.h2cPort, config.host, proxied);
        logger.info({ h2cPort: addr.port }, 'cleartext HTTP/2 listening');
      }
      await lb.listen(config.port, config.host);
    },
    close: async () => {
      await lb.close();
      await acme?.close();
    },
  };
}

/** --proxy-protocol: PROXY headers read from --trusted-proxies peers on every port. */
function proxyProtocolGate(lb: Balancer, logger: Logger): ProxyProtocolGate {
  const rules = lb.policy.clients;
  return new ProxyProtocolGate({ trusted: (peer) => peerTrusted(rules, peer), timeoutMs: 5000, logger: logger.child({ component: 'proxy-protocol' }) });
}

/** Automatic certificates for --acme-domains, kept in the registry's Redis and served by `tls`. */
function acmeManager(tls: TlsListener, config: BalancerConfig, logger: Logger): AcmeManager {
  const holder: { manager?: AcmeManager } = {};
  const store = new RedisAcmeStore({ target: config.redisTarget!, prefix: config.redisPrefix, onChange: (c) => holder.manager?.changed(c) });
  const manager = new AcmeManager(store, tls, {
    domains: config.acmeDomains,
    directoryUrl: config.acmeDirectory,
    email: config.acmeEmail,
    caBundle: config.acmeCaCert === undefined ? undefined : readFileSync(config.acmeCaCert),
    renewBeforeMs: config.acmeRenewBefore,
    checkIntervalMs: config.acmeCheckInterval,
    instanceId: `${config.instanceId}-${process.pid}`,
    box: new SecretBox(config.acmeKey!),
    logger: logger.child({ component: 'acme' }),
  });
  holder.manager = manager;
  return manager;
}

function h2Listener(lb: Balancer, config: BalancerConfig, logger: Logger): H2Listener {
  return new H2Listener(lb.forwarder, {
    maxStreams: config.h2MaxStreams,
    headerTableSize: config.h2HeaderTableSize,
    maxHeaderSize: config.maxHeaderSize,
    maxHeaders: config.maxHeaders,
    idleTimeoutMs: config.keepAliveTimeout || 5000,
    resetJudgedAfter: 100,
    logger: logger.child({ component: 'http2' }),
  });
}

/** The HTTPS listener over `server`, its certificates loaded: a ConfigError naming --tls-cert when one cannot be served. */
export function tlsListener(server: Server, config: BalancerConfig, logger: Logger, h2?: H2Listener, proxyProtocol?: ProxyProtocolGate): TlsListener {
  try {
    return new TlsListener(server, {
      certs: config.tlsCert,
      reloadIntervalMs: config.tlsReloadInterval,
      handshakeTimeoutMs: config.tlsHandshakeTimeout,
      ...(h2 === undefined ? {} : { h2 }),
      ...(proxyProtocol === undefined ? {} : { proxyProtocol }),
      logger: logger.child({ component: 'tls' }),
    });
  } catch (err) {
    throw new ConfigError(`invalid value for --tls-cert: ${(err as Error).message}`);
  }
}

/** With --edge-store redis: rate limits and bans shared through the registry's Redis (a part started before the proxy listens). */
export function edgePart(lb: Balancer, config: BalancerConfig, logger: Logger): NamedPart | undefined {
  if (config.edgeStore !== 'redis' || config.redisTarget === undefined) return undefined;
  const changes: { edge?: SharedEdge } = {};
  const store = new RedisEdgeStore({
    target: config.redisTarget,
    prefix: config.redisPrefix,
    timeoutMs: config.edgeStoreTimeout,
    onChange: (c) => changes.edge?.changed(c),
  });
  const edge = new SharedEdge(store, lb.gate.rateLimiter, lb.gate.bans, {
    failure: config.edgeStoreFailure,
    resyncMs: 2000,
    logger: logger.child({ component: 'edge-store' }),
  });
  changes.edge = edge;
  return { name: 'edge-store', start: () => edge.start(), close: () => edge.close() };
}

/** Starts the parts and closes them in reverse order on SIGTERM or SIGINT, then exits. */
export async function startUntilSignal(supervisor: Supervisor, logger: Logger): Promise<void> {
  supervisor.handleSignals((code) => {
    logger.flush();
    process.exit(code);
  });
  await supervisor.start();
}

/**
 * Writes --backends into a shared registry, retrying while Redis is away. An
 * entry whose key holds something else (RegistryConflictError: not a backend
 * hash, written by someone else) is not retried: no retry can change that. It
 * is named once at warn, and the others are written all the same.
 */
function seedRegistry(registry: Registry, config: BalancerConfig, logger: Logger): { readonly firstTry: Promise<void>; readonly stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const backends = config.staticBackends;
  /** The first entry not yet written (or given up on): a later try starts there. */
  let next = 0;
  let skipped = 0;
  const attempt = async (): Promise<void> => {
    for (; next < backends.length; next++) {
      const b = backends[next]!;
      try {
        await registry.upsert(b);
      } catch (err) {
        if (!(err instanceof RegistryConflictError)) return retry();
        skipped++;
        logger.warn(
          { backendId: b.id, url: b.url, key: redisKeys(config.redisPrefix).backend(b.id) },
          'static backend not written to the registry: its key holds something other than a backend hash (delete the key or pick another id); the others are written',
        );
      }
    }
    logger.info({ backends: backends.length - skipped, skipped }, 'static backends written to the registry');
  };
  /** Redis is away (or refused the write): this entry and the rest on the next try. */
  const retry = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void attempt(), 2000);
    timer.unref();
  };
  return {
    firstTry: attempt(),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
