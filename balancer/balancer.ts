import { EventLoopDelay } from './stats/event-loop-delay.js';
import { WaitHistogram } from './stats/wait-histogram.js';
import { ListenShards } from './listen-shards.js';
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../common/errors.js';
import type { Lifecycle } from '../common/lifecycle.js';
import type { Logger } from '../common/logger.js';
import type { Registry } from '../common/registry/registry.js';
import { BufferBudget } from './forward/buffer-budget.js';
import { rawErrorResponse, sendError } from './forward/error-response.js';
import { policyOptions, resolveLimits, type RequestLimits } from './forward/request-limits.js';
import { clientAddress, evaluateRequest, newVerdict, type PolicyVerdict, type RequestPolicyOptions } from './forward/request-policy.js';
import type { EngineName, ForwardSettings, Forwarder, IncomingCall, PoolOptions } from './forward/forwarder.js';
import { HttpCall, type CallHost } from './forward/http-call.js';
import type { AdmissionRequest } from './forward/admission.js';
import { createForwarder, type EngineHost } from './forward/engines.js';
import { WebSocketTunnels } from './forward/websocket-tunnels.js';
import { HttpHealthChecker, NoHealthChecker, type HealthChecker } from './health/health-checker.js';
import { describeDecision } from './forward/explain.js';
import { EventLog } from './stats/event-log.js';
import { AdmissionControl, type AdmissionOptions } from './resilience/admission-control.js';
import { GradientConcurrencyLimit, type GradientLimitOptions } from './resilience/concurrency-limit.js';
import type { Outcome } from './resilience/outcome.js';
import { DEFAULT_RESILIENCE, Router, type ResilienceSettings } from './router.js';
import type { BackendFacts, BalancerView, RequestWaits, UpstreamView } from './balancer-view.js';
import type { Strategy, PickContext } from './strategies/strategy.js';
import { SelfAddresses } from './self-addresses.js';
import { UpstreamSet } from './upstream-set.js';
import type { Upstream } from './upstream.js';

export interface HealthCheckSettings {
  readonly enabled: boolean;
  readonly path: string;
  readonly intervalMs: number;
  readonly fastIntervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
}

export interface BalancerSettings extends ForwardSettings {
  readonly engine: EngineName;
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
  readonly admission?: AdmissionOptions & { readonly adaptive?: Partial<GradientLimitOptions> };
}

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
export class Balancer implements EngineHost, CallHost, Lifecycle, BalancerView {
  readonly settings: BalancerSettings;
  readonly server: Server;
  readonly upstreams: UpstreamSet;
  readonly health: HealthChecker;
  readonly registry: Registry;
  readonly tunnels: WebSocketTunnels;
  readonly forwarder: Forwarder;
  readonly startedAt: number;
  readonly router: Router;
  readonly admission: AdmissionControl | undefined;
  readonly limiter: GradientConcurrencyLimit | undefined;
  shuttingDown = false;
  readonly limits: RequestLimits;
  readonly policy: RequestPolicyOptions;
  readonly bodyBudget: BufferBudget;
  readonly self: SelfAddresses;
  /** Client requests open now. */
  inFlight = 0;
  /** Client requests answered with an error from the catalogue, by code. */
  readonly errors = new Map<ErrorCode, number>();
  readonly #eventLoop = new EventLoopDelay();
  readonly #shards: ListenShards;
  readonly connectionWait = new WaitHistogram();
  readonly waits: RequestWaits;
  /** Client requests received, and retries made. */
  requestsTotal = 0;
  retriesTotal = 0;
  readonly events: EventLog;
  readonly accessLog: Logger | null;
  readonly accessLogSample: number;
  readonly #explainAll: boolean;
  readonly #explainHeader: string | undefined;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #idPrefix = randomBytes(4).toString('hex');
  #idCounter = 0;
  #unsubscribe: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];
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
    this.policy = policyOptions(this.limits, deps.settings.trustForwarded);
    this.bodyBudget = new BufferBudget(this.limits.requestBufferTotal);
    this.#explainAll = deps.settings.explain ?? false;
    this.#explainHeader = deps.settings.explainHeader?.toLowerCase();
    const sink = (id: string, status: 'unknown' | 'healthy' | 'unhealthy'): void => {
      if (status !== 'unknown') this.events.add(status, id);
      const u = this.upstreams.get(id);
      const from = u?.health;
      this.upstreams.setHealth(id, status);
      if (u && from) this.router.healthChanged(u, from, status);
    };
    const h = deps.settings.health;
    this.health = deps.healthChecker
      ? deps.healthChecker(sink)
      : h.enabled
        ? new HttpHealthChecker({
            path: h.path,
            intervalMs: h.intervalMs,
            fastIntervalMs: h.fastIntervalMs,
            timeoutMs: h.timeoutMs,
            rise: h.rise,
            fall: h.fall,
            refusedIsFatal: true,
            sink,
            logger: deps.logger.child({ component: 'health' }),
            now: this.#now,
          })
        : new NoHealthChecker(sink);
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
    const adm = deps.settings.admission;
    if (adm) {
      this.admission = new AdmissionControl(adm);
      if (adm.adaptive) {
        this.limiter = new GradientConcurrencyLimit({ maxLimit: adm.maxInFlight, ...adm.adaptive });
        this.admission.setLimit(this.limiter.limit);
      }
    }
    this.waits = { connection: this.connectionWait, admissionQueue: this.admission?.queueWait ?? new WaitHistogram(), eventLoop: this.#eventLoop.histogram };
    const engine = deps.settings.engine;
    this.forwarder = createForwarder(engine, this, {
      pool: deps.settings.pool,
      maxHeaderSize: deps.settings.maxHeaderSize,
      keepAliveTimeoutMs: deps.settings.keepAliveTimeoutMs,
    });
    this.tunnels = new WebSocketTunnels(this, deps.logger.child({ component: 'websocket' }));
    this.server = createServer({ maxHeaderSize: deps.settings.maxHeaderSize, keepAliveTimeout: deps.settings.keepAliveTimeoutMs, noDelay: true }, (req, res) =>
      this.#onRequest(req, res),
    );
    // One field more than the policy allows reaches it, so it can answer 431 instead of Node truncating.
    this.server.maxHeadersCount = this.limits.maxHeaders + 1;
    // Expect: answered by the policy (417) or, for 100-continue, after admission (HttpCall).
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
    this.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    this.server.on('clientError', (err: Error & { code?: string }, socket: Socket) => this.#onClientError(err, socket));
    this.server.on('error', (err) => this.#log.error({ err }, 'proxy server error'));
    this.#shards = new ListenShards(this.server, deps.settings.listenShards, (err) => this.#log.error({ err }, 'proxy listening socket error'));
    // The raw engine takes new connections first; http.Server gets those it hands over.
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
   * open connections with `Connection: close`, wait for in-flight requests
   * (up to the shutdown timeout), then close everything.
   */
  async close(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const closed = Promise.all([new Promise<void>((resolve) => (this.#listening ? this.server.close(() => resolve()) : resolve())), this.#shards.close()]);
    this.#closeIdleConnections();
    const idleTimer = setInterval(() => this.#closeIdleConnections(), 100);
    const drained = await this.#waitIdle(this.settings.shutdownTimeoutMs);
    clearInterval(idleTimer);
    if (!drained) this.#log.warn({ inFlight: this.inFlight }, 'shutdown timeout, closing open requests');
    this.server.closeAllConnections();
    this.forwarder.closeAllConnections();
    this.tunnels.close();
    this.admission?.close();
    this.#eventLoop.close();
    this.router.close();
    await closed;
    this.#unsubscribe?.();
    await this.health.close();
    await this.upstreams.close();
    if (drained) await this.forwarder.close();
    else await this.forwarder.destroy();
    this.#listening = false;
  }

  #closeIdleConnections(): void {
    this.server.closeIdleConnections();
    this.forwarder.closeIdleConnections();
  }

  #waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  facts(u: UpstreamView): BackendFacts {
    return this.router.facts(u as Upstream);
  }

  sections(): Record<string, unknown> {
    return { ...this.router.sections(), admission: this.admissionStatus() ?? null };
  }

  admissionStatus(): ReturnType<BalancerView['admissionStatus']> {
    const a = this.admission?.status();
    return a ? { ...a, adaptive: this.limiter !== undefined, limiter: this.limiter?.status() ?? null } : undefined;
  }

  retryBudgetRejections(): number {
    return this.router.retryBudget.status().rejected;
  }

  ejectedCount(): number {
    return this.router.outlier?.ejectedCount ?? 0;
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
    const limiter = this.limiter;
    if (limiter !== undefined && outcome === 'success') {
      const before = limiter.limit;
      const after = limiter.update(latencyMs, this.admission!.inFlight, this.#now());
      if (after !== before) this.admission!.setLimit(after);
    }
  }

  stickyCookie(ctx: PickContext, served: Upstream): string | undefined {
    return this.router.stickyCookie(ctx, served);
  }

  wantsExplanation(req: IncomingMessage): boolean {
    if (this.#explainAll) return true;
    return this.#explainHeader !== undefined && req.headers[this.#explainHeader] !== undefined;
  }

  explain(
    ctx: PickContext,
    picked: Upstream | undefined,
    attempt: number,
    exclude: readonly Upstream[] | undefined,
    tried: readonly { id: string; code: string }[],
  ): string {
    const all = this.router.candidates();
    const candidates = exclude && exclude.length ? all.filter((u) => !exclude.includes(u)) : all;
    const passed = picked === undefined ? undefined : this.strategy.passedOver?.(all, ctx, picked, exclude);
    return describeDecision(this.strategy.name, this.upstreams.all, candidates, picked, attempt, tried, (u) => this.router.blockedReason(u), passed);
  }

  wantsExplanationFor(ctx: PickContext): boolean {
    if (this.#explainAll) return true;
    return this.#explainHeader !== undefined && ctx.header(this.#explainHeader) !== undefined;
  }

  nextRequestId(): string {
    return `${this.#idPrefix}-${(++this.#idCounter).toString(36)}`;
  }

  attemptFailed(upstream: Upstream, code: ErrorCode): void {
    upstream.failures++;
    upstream.lastError = { code, at: this.#now() };
    if (code !== 'SWY_UPSTREAM_TIMEOUT') this.health.checkSoon(upstream.id);
  }

  requestDone(): void {
    this.admission?.release();
    this.#requestEnded();
  }

  #requestEnded(): void {
    if (--this.inFlight === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  // --- server -----------------------------------------------------------------

  /** A request http.Server parsed: the policy, then HttpCall (body, admission) hands it to the engine. */
  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const v = this.#verdictFor(req);
    if (v.refusal !== undefined) {
      this.requestsTotal++;
      this.countError(v.refusal);
      sendError(res, v.refusal, v.requestId, true);
      return;
    }
    new HttpCall(this, req, res, v).start();
  }

  /**
   * An Upgrade request on http.Server: an allowed protocol (WebSocket) is
   * tunnelled; any other (h2c) is served as a plain request on a response
   * made for the socket, which then closes (the policy refuses an Upgrade
   * request with a body).
   */
  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const v = this.#verdictFor(req);
    if (v.refusal === undefined && v.upgrade !== undefined) {
      this.tunnels.handle(req, socket, head, v);
      return;
    }
    const code = v.refusal;
    if (code !== undefined) {
      this.requestsTotal++;
      this.countError(code);
      if (!socket.destroyed) socket.end(rawErrorResponse(code, v.requestId));
      return;
    }
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    req.push(null);
    new HttpCall(this, req, res, v).start();
  }

  readonly #requestId = (): string => this.nextRequestId();

  /** The request policy's verdict on a request http.Server parsed. */
  #verdictFor(req: IncomingMessage): PolicyVerdict {
    const facts = {
      method: req.method ?? 'GET',
      target: req.url ?? '',
      major: req.httpVersionMajor,
      minor: req.httpVersionMinor,
      headers: req.rawHeaders,
      clientIp: clientAddress(req.socket.remoteAddress),
      proto: 'http',
    };
    return evaluateRequest(facts, this.policy, this.#requestId, newVerdict());
  }

  get sendTimeoutMs(): number {
    return this.settings.pool.bodyTimeoutMs;
  }

  /** Hands an admitted request, its body ready, to the engine. */
  forward(req: IncomingMessage, res: ServerResponse, call: IncomingCall): void {
    try {
      this.forwarder.handle(req, res, call);
    } catch (err) {
      this.#log.error({ err, url: req.url }, 'request handler failed');
      this.countError('SWY_INTERNAL');
      sendError(res, 'SWY_INTERNAL', call.verdict.requestId, true);
      call.body.close();
      this.requestDone();
    }
  }

  /** Every request past the policy (raw engine or http.Server): counted, then admitted, queued or refused. */
  admit(r: AdmissionRequest): void {
    this.inFlight++;
    this.requestsTotal++;
    this.router.retryBudget.deposit();
    const admission = this.admission;
    if (admission === undefined || admission.tryGrant()) {
      r.admitted();
      return;
    }
    const a = admission.tryAcquire(r);
    if (a.status === 'granted') r.admitted();
    else if (a.status === 'rejected') this.#refuseRaw(r, 'SWY_QUEUE_FULL');
    else r.queued(a.ticket);
  }

  queuedTimedOut(r: AdmissionRequest): void {
    this.#refuseRaw(r, 'SWY_QUEUE_TIMEOUT');
  }

  queuedLeft(): void {
    this.#requestEnded();
  }

  requestRefused(): void {
    this.requestsTotal++;
  }

  #refuseRaw(r: AdmissionRequest, code: ErrorCode): void {
    this.countError(code);
    r.refused(code, this.admission!.retryAfterSeconds());
    this.#requestEnded();
  }

  countError(code: ErrorCode): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  #onClientError(err: Error & { code?: string }, socket: Socket): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const code: ErrorCode =
      err.code === 'HPE_HEADER_OVERFLOW' ? 'SWY_HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'SWY_REQUEST_TIMEOUT' : 'SWY_BAD_REQUEST';
    this.countError(code);
    this.#log.debug({ code: err.code, remote: socket.remoteAddress }, 'bad request from client');
    const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (res) {
      // Unparsable bytes after a whole request: that request is answered first, then 400 and close.
      // Inside a request (its body broken), nothing sane can follow: cut.
      if (!res.req.complete) {
        socket.destroy();
        return;
      }
      res.once('finish', () => (socket.writable ? socket.end(rawErrorResponse(code)) : socket.destroy()));
      res.once('close', () => {
        if (!res.writableFinished) socket.destroy();
      });
      return;
    }
    socket.end(rawErrorResponse(code));
  }

  /** Facts for the admin API. */
  info(): Record<string, unknown> {
    return {
      instanceId: this.settings.instanceId,
      engine: this.forwarder.name,
      strategy: this.strategy.name,
      admission: this.admission?.status() ?? null,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((this.#now() - this.startedAt) / 1000),
      inFlight: this.inFlight,
      tunnels: this.tunnels.open,
      shuttingDown: this.shuttingDown,
      registry: this.registry.status(),
    };
  }
}
