import { instanceInfo } from '../stats/instance-info.js';
import { WaitHistogram } from '../stats/wait-histogram.js';
import cluster, { type Worker } from 'node:cluster';
import type { BackendSpec } from '../../common/backend.js';
import type { ErrorCode } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Registry, RegistrySnapshot } from '../../common/registry/registry.js';
import type { BackendFacts, BalancerProfile, BalancerTotals, BalancerView, RequestWaits, UpstreamView } from '../balancer-view.js';
import type { BalancerConfig } from '../config.js';
import { HttpHealthChecker } from '../health/health-checker.js';
import type { HealthStatus } from '../health/health-state.js';
import { EventLog } from '../stats/event-log.js';
import { BIN_COUNT } from '../stats/latency-histogram.js';
import { summarize, type WindowSummary } from '../stats/rolling-window.js';
import { RATE_WINDOW_SECONDS } from '../stats/snapshot.js';
import { LATENCY_BUCKETS_SECONDS } from '../upstream.js';
import { mergeStats } from './merge-stats.js';
import { isMessage, type CheckedHealth, type ToPrimary, type ToWorker, type WorkerStats, type WorkerUpstreamStats } from './messages.js';
import { configuredAddresses, type SelfAddresses } from '../self-addresses.js';

/** One backend as the primary shows it: registry spec, its own health checks, the workers' stats merged (merge-stats.ts). */
class MergedUpstream implements UpstreamView {
  readonly id: string;
  readonly url: string;
  spec: BackendSpec;
  health: HealthStatus = 'unknown';
  healthChangedAt: number;
  routable = false;
  /** The workers' merged stats of it at the last collect; undefined before, or when no worker knows it yet. */
  stats: WorkerUpstreamStats | undefined;

  constructor(spec: BackendSpec, now: number) {
    this.id = spec.id;
    this.url = spec.url;
    this.spec = spec;
    this.healthChangedAt = now;
  }

  get facts(): BackendFacts {
    return this.stats?.facts ?? { breaker: 'closed', ejected: false, effectiveWeight: this.spec.weight };
  }
  get weight(): number {
    return this.facts.effectiveWeight;
  }
  get inFlight(): number {
    return this.stats?.inFlight ?? 0;
  }
  get tunnels(): number {
    return this.stats?.tunnels ?? 0;
  }
  get requests(): number {
    return this.stats?.requests ?? 0;
  }
  get connectionsOpened(): number {
    return this.stats?.connectionsOpened ?? 0;
  }
  get failures(): number {
    return this.stats?.failures ?? 0;
  }
  get responses1xx2xx(): number {
    return this.stats?.responses[0] ?? 0;
  }
  get responses3xx(): number {
    return this.stats?.responses[1] ?? 0;
  }
  get responses4xx(): number {
    return this.stats?.responses[2] ?? 0;
  }
  get responses5xx(): number {
    return this.stats?.responses[3] ?? 0;
  }
  get lastError(): { readonly code: ErrorCode; readonly at: number } | undefined {
    return this.stats?.lastError ?? undefined;
  }
  get latencyBuckets(): ArrayLike<number> {
    return this.stats?.latencyBuckets ?? NO_LATENCIES;
  }
  get latencySumSeconds(): number {
    return this.stats?.latencySumSeconds ?? 0;
  }
  get latencyCount(): number {
    return this.stats?.latencyCount ?? 0;
  }

  readonly window = {
    summary: (span: number): WindowSummary => summarize(this.stats?.window ?? NO_WINDOW, Math.min(span, RATE_WINDOW_SECONDS)),
    series: (): number[] => (this.stats?.series ?? []) as number[],
  };
}

const NO_LATENCIES: readonly number[] = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
const NO_WINDOW = { count: 0, errors: 0, hist: new Array<number>(BIN_COUNT).fill(0) };

export interface ControlPlaneDeps {
  readonly config: BalancerConfig;
  readonly workers: number;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * The primary of `switchyard balancer --workers N`: the control plane. It
 * owns the registry, checks every backend once for all workers, serves the
 * admin API over the merged view of its workers, forwards registry
 * snapshots, health changes and strategy switches to them, and restarts a
 * worker that dies. Workers hold the data plane: listening socket (shared
 * through node:cluster), pools, strategy state, outlier detection, breakers,
 * retry budget and their share of the admission cap.
 */
export class ControlPlane implements BalancerView {
  readonly profile: BalancerProfile;
  readonly registry: Registry;
  readonly events: EventLog;
  readonly health: HttpHealthChecker;
  readonly startedAt: number;
  /** The workers' figures merged at the last collect. */
  #totals: BalancerTotals = { inFlight: 0, requestsTotal: 0, retriesTotal: 0, errors: new Map(), admission: undefined, retryRejections: 0, ejected: 0 };
  /** The workers' wait histograms, summed at each collect. */
  readonly waits: RequestWaits = { connection: new WaitHistogram(), admissionQueue: new WaitHistogram(), eventLoop: new WaitHistogram() };
  shuttingDown = false;
  readonly #config: BalancerConfig;
  readonly #count: number;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #byId = new Map<string, MergedUpstream>();
  readonly #workers = new Map<number, { worker: Worker; ready: boolean; stats?: WorkerStats }>();
  #all: MergedUpstream[] = [];
  #strategy: { name: string; options: unknown };
  #version = 0;
  #seq = 0;
  #collecting: Promise<void> | undefined;
  #collectedAt = 0;
  #restarts: number[] = [];
  #forked = 0;
  #unsubscribe: (() => void) | undefined;
  #sections: Record<string, unknown> = {};
  readonly #self: SelfAddresses;

  constructor(deps: ControlPlaneDeps) {
    this.#config = deps.config;
    this.#self = configuredAddresses(deps.config);
    this.#count = deps.workers;
    this.#log = deps.logger;
    this.#now = deps.now ?? Date.now;
    this.registry = deps.registry;
    this.profile = {
      instanceId: deps.config.instanceId,
      engine: deps.config.engine,
      listener: deps.config.listener,
      metricsBackendLimit: deps.config.metricsBackendLimit,
    };
    this.startedAt = this.#now();
    this.events = new EventLog(200, this.#now);
    this.#strategy = { name: deps.config.strategy, options: undefined };
    this.health = new HttpHealthChecker({
      path: deps.config.healthPath,
      intervalMs: deps.config.healthInterval,
      fastIntervalMs: deps.config.healthFastInterval,
      timeoutMs: deps.config.healthTimeout,
      rise: deps.config.healthRise,
      fall: deps.config.healthFall,
      refusedIsFatal: true,
      logger: deps.logger.child({ component: 'health' }),
      now: this.#now,
      sink: (id, status) => this.#healthChanged(id, status),
    });
  }

  // --- lifecycle ----------------------------------------------------------------

  isSelf(url: string): boolean {
    return this.#self.has(url);
  }

  async start(): Promise<void> {
    this.#apply(this.registry.current());
    this.#unsubscribe = this.registry.subscribe((s) => {
      // Health states still batched are about the backends before this snapshot: they go first.
      this.#flushHealth();
      this.#apply(s);
      this.#broadcast({ swy: 1, t: 'snapshot', snapshot: s, status: this.registry.status() });
    });
    await this.health.start();
    // Must be set before the first fork. Round robin (node's default) makes every new
    // connection wait until the primary has handed it to a worker and that worker has
    // acknowledged the previous one: under load, a burst of connections queues there for
    // hundreds of milliseconds (docs/performance.md). Shared: each worker accepts itself.
    cluster.schedulingPolicy = this.#config.workerAccept === 'primary' ? cluster.SCHED_RR : cluster.SCHED_NONE;
    for (let i = 0; i < this.#count; i++) this.#fork();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('workers did not start listening within 20 s')), 20_000);
      const check = setInterval(() => {
        if ([...this.#workers.values()].filter((w) => w.ready).length >= this.#count) {
          clearTimeout(timer);
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
  }

  /** Asks every worker to drain and exit, waits for them, then stops checking. */
  async close(): Promise<void> {
    this.shuttingDown = true;
    this.#unsubscribe?.();
    const exits = [...this.#workers.values()].map(
      ({ worker }) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          const kill = setTimeout(() => worker.process.kill('SIGKILL'), this.#config.shutdownTimeout + 3000);
          worker.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          worker.process.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    await this.health.close();
  }

  get listening(): boolean {
    return !this.shuttingDown && [...this.#workers.values()].some((w) => w.ready);
  }

  get workerCount(): number {
    return [...this.#workers.values()].filter((w) => w.ready).length;
  }

  #fork(): void {
    // Workers log and report under the primary's instance id.
    const worker = cluster.fork({ SWITCHYARD_WORKER_ID: String(++this.#forked), SWITCHYARD_INSTANCE_ID: this.profile.instanceId });
    const entry: { worker: Worker; ready: boolean; stats?: WorkerStats } = { worker, ready: false };
    this.#workers.set(worker.id, entry);
    worker.on('error', (err) => this.#log.warn({ err, worker: worker.id }, 'worker channel error'));
    worker.on('message', (m: unknown) => this.#onMessage(worker, m));
    worker.on('exit', (code, signal) => {
      this.#workers.delete(worker.id);
      if (this.shuttingDown) return;
      this.#log.error({ worker: worker.id, code, signal }, 'worker died, starting another');
      const now = this.#now();
      this.#restarts = [...this.#restarts.filter((t) => now - t < 10_000), now];
      if (this.#restarts.length > 5) {
        this.#log.fatal({ restarts: this.#restarts.length }, 'workers keep dying, giving up');
        process.exit(1);
      }
      setTimeout(() => this.#fork(), 200).unref();
    });
  }

  #onMessage(worker: Worker, m: unknown): void {
    if (!isMessage<ToPrimary>(m)) return;
    const entry = this.#workers.get(worker.id);
    switch (m.t) {
      case 'hello':
        // Everything a fresh worker needs, in order: registry, health, strategy.
        this.#send(worker, { swy: 1, t: 'snapshot', snapshot: this.registry.current(), status: this.registry.status() });
        this.#send(worker, { swy: 1, t: 'health', states: [...this.#byId.values()].map((u) => [u.id, u.health, u.url] as const) });
        if (this.#strategy.name !== this.#config.strategy || this.#strategy.options !== undefined) {
          this.#send(worker, { swy: 1, t: 'strategy', name: this.#strategy.name, options: this.#strategy.options });
        }
        break;
      case 'ready':
        if (entry) entry.ready = true;
        break;
      case 'hint':
        this.health.checkSoon(m.id);
        break;
      case 'event':
        this.events.add(m.type, m.backendId, m.detail);
        break;
      case 'stats':
        if (entry && m.seq === this.#seq) entry.stats = m.stats;
        break;
    }
  }

  #send(worker: Worker, m: ToWorker): void {
    if (worker.isConnected()) worker.send(m, undefined, () => undefined);
  }

  #broadcast(m: ToWorker): void {
    for (const { worker } of this.#workers.values()) this.#send(worker, m);
  }

  // --- registry and health ------------------------------------------------------

  #apply(snapshot: RegistrySnapshot): void {
    this.#version = snapshot.version;
    const wanted = new Map(snapshot.backends.map((b) => [b.id, b]));
    for (const [id, u] of this.#byId) {
      const spec = wanted.get(id);
      if (!spec || spec.url !== u.url) {
        this.#byId.delete(id);
        this.health.unwatch(id);
        this.events.add('removed', id);
      }
    }
    for (const spec of wanted.values()) {
      const u = this.#byId.get(spec.id);
      if (u) {
        if (u.spec.state !== spec.state) this.events.add('state-changed', spec.id, `${u.spec.state} -> ${spec.state}`);
        u.spec = spec;
        continue;
      }
      this.#byId.set(spec.id, new MergedUpstream(spec, this.#now()));
      this.events.add('registered', spec.id, spec.url);
      this.health.watch({ id: spec.id, url: spec.url });
    }
    this.#rebuild();
  }

  /** Health changes not yet sent to the workers: a first round over 10,000 backends goes out in a few messages, not 10,000. */
  #healthOut: CheckedHealth[] = [];
  #healthFlush: NodeJS.Immediate | undefined;

  #healthChanged(id: string, status: HealthStatus): void {
    const u = this.#byId.get(id);
    if (!u) return;
    u.health = status;
    u.healthChangedAt = this.#now();
    if (status !== 'unknown') this.events.add(status, id);
    u.routable = isRoutable(u);
    this.#healthOut.push([id, status, u.url]);
    this.#healthFlush ??= setImmediate(() => this.#flushHealth());
  }

  /**
   * Sends the batched health changes now. Called before a registry snapshot
   * goes out too, so a worker hears a state about a backend's URL before the
   * snapshot that replaces that URL, never after (the URL each state names
   * lets the worker drop a stale one all the same).
   */
  #flushHealth(): void {
    if (this.#healthFlush !== undefined) clearImmediate(this.#healthFlush);
    this.#healthFlush = undefined;
    if (this.#healthOut.length === 0) return;
    const states = this.#healthOut;
    this.#healthOut = [];
    this.#broadcast({ swy: 1, t: 'health', states });
  }

  #rebuild(): void {
    this.#all = [...this.#byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const u of this.#all) u.routable = isRoutable(u);
  }

  // --- BalancerView ---------------------------------------------------------------

  get upstreams(): BalancerView['upstreams'] {
    const all = this.#all;
    return { all, routable: all.filter((u) => u.routable), version: this.#version, get: (id: string) => this.#byId.get(id) };
  }

  get strategy(): { readonly name: string } {
    return { name: this.#strategy.name };
  }

  setStrategy(_built: { readonly name: string }, spec: { readonly name: string; readonly options: unknown }): void {
    const from = this.#strategy.name;
    this.#strategy = { name: spec.name, options: spec.options };
    this.#log.info({ from, to: spec.name }, 'strategy changed');
    this.events.add('strategy-changed', undefined, `${from} -> ${spec.name}`);
    this.#broadcast({ swy: 1, t: 'strategy', name: spec.name, options: spec.options });
  }

  facts(u: UpstreamView): BackendFacts {
    return (u as MergedUpstream).facts;
  }

  sections(): Record<string, unknown> {
    return { ...this.#sections, admission: this.#totals.admission ?? null, workers: this.workerCount };
  }

  totals(): BalancerTotals {
    return this.#totals;
  }

  info(): Record<string, unknown> {
    return instanceInfo(this, this.#now(), { workers: this.workerCount });
  }

  /** Asks every worker for its stats (at most every 200 ms) and merges them. */
  collect(): Promise<void> {
    if (this.#now() - this.#collectedAt < 200) return Promise.resolve();
    this.#collecting ??= this.#collect().finally(() => {
      this.#collecting = undefined;
      this.#collectedAt = this.#now();
    });
    return this.#collecting;
  }

  async #collect(): Promise<void> {
    const seq = ++this.#seq;
    const live = [...this.#workers.values()].filter((w) => w.ready);
    for (const w of live) {
      w.stats = undefined;
      this.#send(w.worker, { swy: 1, t: 'collect', seq });
    }
    const deadline = this.#now() + 500;
    while (live.some((w) => !w.stats) && this.#now() < deadline) await new Promise((r) => setTimeout(r, 5));
    this.#merge(live.flatMap((w) => (w.stats ? [w.stats] : [])));
  }

  #merge(stats: readonly WorkerStats[]): void {
    const m = mergeStats(stats);
    const byId = new Map(m.upstreams.map((u) => [u.id, u]));
    for (const u of this.#all) u.stats = byId.get(u.id);
    const admission = m.admission === null ? undefined : { ...m.admission, adaptive: this.#config.adaptiveConcurrency, limiter: null };
    this.#totals = {
      inFlight: m.inFlight,
      requestsTotal: m.requestsTotal,
      retriesTotal: m.retriesTotal,
      errors: new Map(m.errors),
      admission,
      retryRejections: m.retryBudget.rejected,
      ejected: m.ejected,
    };
    for (const [h, data] of [
      [this.waits.connection, m.waits.connection],
      [this.waits.admissionQueue, m.waits.admissionQueue],
      [this.waits.eventLoop, m.waits.eventLoop],
    ] as const) {
      h.clear();
      h.add(data.counts, data.sumSeconds);
    }
    this.#sections = {
      resilience: {
        retryBudget: m.retryBudget,
        note: 'outlier detection, breakers and retry budgets are per worker; a backend shows ejected or open when any worker ejected it or opened its breaker',
      },
    };
    this.#rebuild();
  }
}

function isRoutable(u: MergedUpstream): boolean {
  return u.spec.state === 'active' && u.spec.weight > 0 && u.health === 'healthy' && u.facts.breaker !== 'open' && !u.facts.ejected;
}
