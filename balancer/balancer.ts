import { EventLoopDelay } from './stats/event-loop-delay.js';
import { WaitHistogram } from './stats/wait-histogram.js';
import { ListenShards } from './listen-shards.js';
import { drainClients, idleGraceMs, stopAccepting, type Adopted } from './client-drain.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ErrorCode } from '../common/errors.js';
import type { Lifecycle } from '../common/lifecycle.js';
import type { Logger } from '../common/logger.js';
import type { Registry } from '../common/registry/registry.js';
import { BufferBudget } from './forward/buffer-budget.js';
import { policyOptions, resolveLimits, type RequestLimits } from './forward/request-limits.js';
import { clientRules } from './forward/client-rules.js';
import type { RequestPolicyOptions } from './forward/request-policy.js';
import type { ForwardHost } from './forward/forwarder.js';
import type { EngineForwarder } from './forward/engine-forwarder.js';
import { createForwarder } from './forward/engines.js';
import { requestIds } from './forward/request-ids.js';
import { WebSocketTunnels } from './forward/websocket-tunnels.js';
import { createHealthChecker, type HealthChecker } from './health/health-checker.js';
import { EventLog } from './stats/event-log.js';
import { instanceInfo } from './stats/instance-info.js';
import type { Outcome } from './resilience/outcome.js';
import { DEFAULT_RESILIENCE, Router } from './router.js';
import type { BackendFacts, BalancerProfile, BalancerTotals, BalancerView, RequestWaits, UpstreamView } from './balancer-view.js';
import type { Strategy, PickContext } from './strategies/strategy.js';
import { SelfAddresses } from './self-addresses.js';
import { RequestGate } from './request-gate.js';
import { edgeGuards } from './edge/rate-limiter.js';
import type { BalancerSettings } from './balancer-settings.js';
import { DecisionExplainer } from './decision-explainer.js';
import { HttpListener } from './http-listener.js';
import { UpstreamSet } from './upstream-set.js';
import type { Upstream } from './upstream.js';

export interface BalancerDeps {
  readonly settings: BalancerSettings;
  readonly registry: Registry;
  readonly strategy: Strategy<Upstream>;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Replaces the HTTP health checker (tests). */
  readonly healthChecker?: (sink: (id: string, status: 'unknown' | 'healthy' | 'unhealthy') => void) => HealthChecker;
  /** Where this balancer listens, as configured (its proxy address is added once it listens). */
  readonly self?: SelfAddresses;
}

/**
 * The reverse proxy: an HTTP server, the upstream set kept in step with the
 * registry, the health checker and a forwarding engine. `listen()` is the
 * only I/O at construction's end; `close()` drains and stops.
 */
export class Balancer implements ForwardHost, Lifecycle, BalancerView {
  readonly settings: BalancerSettings;
  readonly server: Server;
  /** The proxy's http.Server and the requests it parses. */
  readonly http: HttpListener;
  readonly upstreams: UpstreamSet;
  readonly health: HealthChecker;
  readonly registry: Registry;
  readonly tunnels: WebSocketTunnels;
  readonly forwarder: EngineForwarder;
  readonly profile: BalancerProfile;
  readonly startedAt: number;
  readonly router: Router;
  /** Admission and the count of requests in and out. */
  readonly gate: RequestGate;
  shuttingDown = false;
  readonly limits: RequestLimits;
  readonly policy: RequestPolicyOptions;
  readonly bodyBudget: BufferBudget;
  readonly self: SelfAddresses;
  readonly #eventLoop = new EventLoopDelay();
  readonly #shards: ListenShards;
  readonly #adopted: Adopted[] = [];
  readonly connectionWait = new WaitHistogram();
  readonly waits: RequestWaits;
  retriesTotal = 0;
  readonly events: EventLog;
  readonly accessLog: Logger | null;
  readonly accessLogSample: number;
  readonly explainer: DecisionExplainer;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly nextRequestId = requestIds();
  #unsubscribe: (() => void) | undefined;
  #listening = false;

  constructor(deps: BalancerDeps) {
    this.settings = deps.settings;
    this.registry = deps.registry;
    this.#log = deps.logger;
    this.#now = deps.now ?? Date.now;
    this.startedAt = this.#now();
    this.events = new EventLog(200, this.#now);
    this.accessLog = deps.settings.accessLog ? deps.logger.child({ component: 'access' }) : null;
    this.accessLogSample = deps.settings.accessLogSample ?? 1;
    this.self = deps.self ?? new SelfAddresses();
    this.limits = resolveLimits(deps.settings.limits);
    this.policy = policyOptions(this.limits, clientRules(deps.settings));
    this.bodyBudget = new BufferBudget(this.limits.requestBufferTotal);
    const sink = (id: string, status: 'unknown' | 'healthy' | 'unhealthy'): void => this.router.healthReported(id, status);
    this.health = deps.healthChecker
      ? deps.healthChecker(sink)
      : createHealthChecker(deps.settings.health, sink, deps.logger.child({ component: 'health' }), this.#now);
    this.upstreams = new UpstreamSet({
      logger: deps.logger.child({ component: 'upstreams' }),
      events: this.events,
      now: this.#now,
      refuse: (spec) => (this.self.has(spec.url) ? 'the URL is an address of this balancer: requests would loop' : undefined),
      onAdded: (u) => this.health.watch({ id: u.id, url: u.url }),
      onRemoved: (u) => {
        this.health.unwatch(u.id);
        this.forwarder.forget(u);
      },
    });
    this.router = new Router({
      upstreams: this.upstreams,
      strategy: deps.strategy,
      settings: deps.settings.resilience ?? DEFAULT_RESILIENCE,
      events: this.events,
      logger: deps.logger.child({ component: 'router' }),
      now: this.#now,
    });
    this.gate = new RequestGate(deps.settings.admission, this.router.retryBudget, edgeGuards(deps.settings));
    this.explainer = new DecisionExplainer(deps.settings, this.router, this.upstreams);
    this.waits = { connection: this.connectionWait, admissionQueue: this.gate.queueWait, eventLoop: this.#eventLoop.histogram };
    this.forwarder = createForwarder(this, deps.settings);
    const { instanceId, engine, listener, metricsBackendLimit } = deps.settings;
    this.profile = { instanceId, engine, listener, metricsBackendLimit };
    this.tunnels = new WebSocketTunnels(this, deps.logger.child({ component: 'websocket' }));
    this.http = new HttpListener({
      gate: this.gate,
      limits: this.limits,
      policy: this.policy,
      bodyBudget: this.bodyBudget,
      sendTimeoutMs: deps.settings.pool.bodyTimeoutMs,
      forwarder: this.forwarder,
      tunnels: this.tunnels,
      requestId: this.nextRequestId,
      shuttingDown: () => this.shuttingDown,
      maxHeaderSize: deps.settings.maxHeaderSize,
      keepAliveTimeoutMs: deps.settings.keepAliveTimeoutMs,
      logger: this.#log,
    });
    this.server = this.http.server;
    this.#shards = new ListenShards(this.server, deps.settings.listenShards, (err) => this.#log.error({ err }, 'proxy listening socket error'));
    // The llhttp listener takes new connections first; http.Server gets those it hands over.
    this.forwarder.attach(this.server);
  }

  /** Starts following the registry and health checking; resolves after the first round of checks (bounded by the check timeout). Does not listen. */
  async start(): Promise<void> {
    this.upstreams.apply(this.registry.current());
    this.#unsubscribe = this.registry.subscribe((snap) => this.upstreams.update(snap));
    this.router.start();
    // Warm start: the first round of checks completes before listen(); the routable set is then current.
    this.#eventLoop.start();
    await this.health.start();
    this.upstreams.refresh();
  }

  get strategy(): Strategy<Upstream> {
    return this.router.strategy;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    const addr = await this.#shards.listen(port, host);
    this.#listening = true;
    this.addSelfAddress(host, addr.port);
    return addr;
  }

  /** Another listener whose connections this balancer serves (HTTPS, HTTP/2): it stops accepting, and its connections drain, with the proxy port's. */
  adopt(listener: Adopted): void {
    this.#adopted.push(listener);
  }

  /** Listening sockets of the proxy port now. */
  get listeningSockets(): number {
    return this.#shards.listening;
  }

  /** One more address of this balancer (its admin API once it listens): entries pointing at it are dropped. */
  addSelfAddress(host: string, port: number): void {
    this.self.add(host, port);
    // update(), not apply(): a large snapshot being prepared is not applied at once in this turn.
    this.upstreams.update(this.registry.current());
  }

  /** True when `url` is an address of this balancer (the admin API refuses it as a backend). */
  isSelf(url: string): boolean {
    return this.self.has(url);
  }

  get listening(): boolean {
    return this.#listening && !this.shuttingDown;
  }

  /**
   * Graceful stop: refuse new connections, answer requests still arriving on
   * open connections with `Connection: close`, close connections once idle for a
   * grace (client-drain.ts), wait for in-flight requests and the connections
   * (up to the shutdown timeout), then close everything.
   */
  async close(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const closed = Promise.all([this.#listening ? stopAccepting(this.server) : undefined, this.#shards.close(), ...this.#adopted.map((l) => l.close())]);
    const { shutdownTimeoutMs, keepAliveTimeoutMs } = this.settings;
    const closeIdle = (ms: number): void => {
      this.http.closeIdleConnections(ms);
      this.forwarder.closeIdleConnections(ms);
      for (const l of this.#adopted) l.closeIdleConnections?.(ms);
    };
    const drained = await drainClients(closed, { waitIdle: (ms) => this.gate.waitIdle(ms), closeIdle }, shutdownTimeoutMs, idleGraceMs(keepAliveTimeoutMs));
    if (!drained) this.#log.warn({ inFlight: this.inFlight }, 'shutdown timeout, closing open requests');
    this.server.closeAllConnections();
    this.forwarder.closeAllConnections();
    for (const l of this.#adopted) l.closeAllConnections?.();
    this.tunnels.close();
    this.gate.close();
    this.#eventLoop.close();
    this.router.close();
    await closed;
    // It accepts nothing already; this stops http.Server's own timers.
    this.server.close();
    this.#unsubscribe?.();
    await this.health.close();
    await this.upstreams.close();
    if (drained) await this.forwarder.close();
    else await this.forwarder.destroy();
    this.#listening = false;
  }

  facts(u: UpstreamView): BackendFacts {
    return this.router.facts(u as Upstream);
  }

  sections(): Record<string, unknown> {
    return { ...this.router.sections(), admission: this.gate.status() ?? null };
  }

  totals(): BalancerTotals {
    const g = this.gate;
    return {
      inFlight: g.inFlight,
      requestsTotal: g.requestsTotal,
      retriesTotal: this.retriesTotal,
      errors: g.errors,
      admission: g.status(),
      retryRejections: this.router.retryBudget.status().rejected,
      ejected: this.router.outlier?.ejectedCount ?? 0,
    };
  }

  get inFlight(): number {
    return this.gate.inFlight;
  }

  /** Switches the strategy live; requests already routed are not affected. */
  setStrategy(strategy: Strategy<Upstream>): void {
    const from = this.strategy.name;
    this.router.strategy = strategy;
    this.#log.info({ from, to: strategy.name }, 'strategy changed');
    this.events.add('strategy-changed', undefined, `${from} -> ${strategy.name}`);
  }

  // --- ForwardHost ------------------------------------------------------------

  pick(ctx: PickContext, exclude?: readonly Upstream[]): Upstream | undefined {
    return this.router.pick(ctx, exclude);
  }

  acquireRetry(): boolean {
    if (!this.router.retryBudget.tryAcquire(this.#now())) return false;
    this.retriesTotal++;
    return true;
  }

  attemptEnded(upstream: Upstream, outcome: Outcome, latencyMs: number): void {
    this.router.attemptEnded(upstream, outcome, latencyMs);
    this.gate.attemptEnded(outcome, latencyMs, this.#now());
  }

  stickyCookie(ctx: PickContext, served: Upstream): string | undefined {
    return this.router.stickyCookie(ctx, served);
  }

  attemptFailed(upstream: Upstream, code: ErrorCode): void {
    upstream.transportFailed(code, this.#now());
    if (code !== 'SWY_UPSTREAM_TIMEOUT') this.health.checkSoon(upstream.id);
  }

  /** Facts for the admin API (GET /info). */
  info(): Record<string, unknown> {
    return instanceInfo(this, this.#now(), { tunnels: this.tunnels.open });
  }
}
