import type { Logger } from '../common/logger.js';
import { CircuitBreakers } from './resilience/circuit-breakers.js';
import type { CircuitBreakerOptions } from './resilience/circuit-breaker.js';
import type { Outcome } from './resilience/outcome.js';
import { OutlierDetector, type OutlierDetectorOptions } from './resilience/outlier-detector.js';
import { panicSet } from './resilience/panic.js';
import { RetryBudget, type RetryBudgetOptions } from './resilience/retry-budget.js';
import { SlowStart, type SlowStartOptions } from './resilience/slow-start.js';
import type { HealthStatus } from './health/health-state.js';
import type { EventLog } from './stats/event-log.js';
import type { PickContext, Strategy } from './strategies/strategy.js';
import type { UpstreamSet } from './upstream-set.js';
import type { Upstream } from './upstream.js';

export interface ResilienceSettings {
  /** Passive outlier detection; `consecutiveFailures` 0 turns it off. */
  readonly outlier: Partial<OutlierDetectorOptions> & { readonly consecutiveFailures: number };
  /** Per-backend circuit breakers; off when undefined. */
  readonly breaker?: Partial<CircuitBreakerOptions>;
  readonly retryBudget: Partial<RetryBudgetOptions>;
  /** Slow start; `windowMs` 0 turns it off. */
  readonly slowStart: Partial<SlowStartOptions>;
  /** Below this percentage of healthy backends, balance over all active ones (0 = never). */
  readonly panicThresholdPercent: number;
  /** How often time-driven state moves (ejections end, breakers half-open, slow start ramps). */
  readonly tickMs?: number;
}

export const DEFAULT_RESILIENCE: ResilienceSettings = {
  outlier: { consecutiveFailures: 5 },
  breaker: {},
  retryBudget: {},
  slowStart: { windowMs: 0 },
  panicThresholdPercent: 0,
};

/**
 * Routing around failure: which backends the strategy may pick from, and
 * what each attempt teaches. It owns the strategy, outlier detection, the
 * circuit breakers, slow start, panic mode and the retry budget, and keeps
 * the upstream set's routable list free of ejected backends and open
 * breakers. Decisions are the pure parts' (balancer/resilience/*); this
 * class only calls them at the right moments with one clock.
 */
export class Router {
  readonly #upstreams: UpstreamSet;
  readonly #log: Logger;
  readonly #events: EventLog;
  readonly #now: () => number;
  readonly #tickMs: number;
  readonly outlier: OutlierDetector | undefined;
  readonly breakers: CircuitBreakers | undefined;
  readonly retryBudget: RetryBudget;
  readonly #slowStart: SlowStart | undefined;
  readonly #panicPercent: number;
  #strategy: Strategy<Upstream>;
  #timer: NodeJS.Timeout | undefined;
  #lastRefresh = 0;
  #panic = false;

  constructor(deps: {
    upstreams: UpstreamSet;
    strategy: Strategy<Upstream>;
    settings: ResilienceSettings;
    events: EventLog;
    logger: Logger;
    now: () => number;
  }) {
    const s = deps.settings;
    this.#upstreams = deps.upstreams;
    this.#strategy = deps.strategy;
    this.#log = deps.logger;
    this.#events = deps.events;
    this.#now = deps.now;
    this.#tickMs = s.tickMs ?? 100;
    this.#panicPercent = s.panicThresholdPercent;
    this.retryBudget = new RetryBudget(s.retryBudget, this.#now());
    this.#slowStart = s.slowStart.windowMs ? new SlowStart(s.slowStart) : undefined;
    if (s.outlier.consecutiveFailures > 0) {
      this.outlier = new OutlierDetector(s.outlier, (e) => {
        if (e.type === 'ejected') {
          this.#log.warn({ backendId: e.id, until: new Date(e.until).toISOString(), ejections: e.ejections }, 'backend ejected');
          this.#events.add('ejected', e.id, `for ${Math.round((e.until - e.at) / 1000)} s (ejection ${e.ejections})`);
        } else if (e.type === 'returned') {
          this.#log.info({ backendId: e.id }, 'backend returned from ejection');
          this.#events.add('returned', e.id);
        } else {
          this.#log.warn({ backendId: e.id, ejected: e.ejected }, 'ejection skipped: too many backends ejected already');
        }
        this.#upstreams.refresh();
      });
    }
    if (s.breaker) {
      this.breakers = new CircuitBreakers(s.breaker, (e) => {
        const type = e.to === 'open' ? 'breaker-opened' : e.to === 'half-open' ? 'breaker-half-open' : 'breaker-closed';
        this.#log.info({ backendId: e.id, from: e.from, to: e.to }, 'circuit breaker changed');
        this.#events.add(type, e.id, `${e.from} -> ${e.to}`);
        // open leaves the routable set; half-open comes back for its trials.
        if (e.to === 'open' || e.from === 'open') this.#upstreams.refresh();
      });
    }
    this.#upstreams.blocked = (u) => this.blockedReason(u) !== undefined;
    this.#upstreams.onMembersChanged = (active) => this.#membersChanged(active);
  }

  get strategy(): Strategy<Upstream> {
    return this.#strategy;
  }

  set strategy(s: Strategy<Upstream>) {
    this.#strategy = s;
    s.refresh?.(this.#upstreams.routable, this.#now());
  }

  start(): void {
    this.#membersChanged(this.#upstreams.active);
    this.#timer = setInterval(() => this.tick(this.#now()), this.#tickMs);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Time-driven changes, the only place they happen: ejections end, breakers go half-open, slow start ramps, dynamic weights refresh. */
  tick(now: number): void {
    this.outlier?.sweep(now);
    this.breakers?.sweep(now);
    this.retryBudget.advance(now);
    if (this.#slowStart) {
      for (const u of this.#upstreams.all) {
        const base = u.spec.weight;
        u.effectiveWeight = u.health === 'healthy' && this.#slowStart.isRamping(u.healthySince, now) ? this.#slowStart.weight(base, u.healthySince, now) : base;
      }
    }
    if (now - this.#lastRefresh >= 1000) {
      this.#lastRefresh = now;
      this.#strategy.refresh?.(this.#upstreams.routable, now);
    }
  }

  /** The set the strategy picks from: the routable backends, or every active one in panic. */
  candidates(): readonly Upstream[] {
    const routable = this.#upstreams.routable;
    if (this.#panicPercent === 0) return routable;
    const set = panicSet(this.#upstreams.active, routable, this.#panicPercent);
    const panic = set !== routable;
    if (panic !== this.#panic) {
      this.#panic = panic;
      this.#log.warn(
        { healthy: routable.length, active: this.#upstreams.active.length, thresholdPercent: this.#panicPercent },
        panic ? 'panic mode: balancing over all backends' : 'panic mode over',
      );
    }
    return set;
  }

  /**
   * Picks a backend, skipping `exclude` (tried already). A half-open breaker
   * admits a few trials; a backend whose breaker refuses counts as tried.
   */
  pick(ctx: PickContext, exclude: readonly Upstream[] | undefined): Upstream | undefined {
    const candidates = this.candidates();
    let up = this.#strategy.pick(candidates, ctx, exclude);
    if (up === undefined || this.breakers === undefined) return up;
    let skipped: Upstream[] | undefined;
    while (up !== undefined && up.breaker !== undefined && !up.breaker.allow()) {
      (skipped ??= exclude ? [...exclude] : []).push(up);
      up = skipped.length >= candidates.length ? undefined : this.#strategy.pick(candidates, ctx, skipped);
    }
    return up;
  }

  /** A sticky-session cookie to set for the backend that served, if the strategy pins clients. */
  stickyCookie(ctx: PickContext, served: Upstream): string | undefined {
    return this.#strategy.setCookieFor?.(ctx, served);
  }

  /**
   * One attempt ended. `latencyMs` is the time to the response head (or the
   * failure). Every attempt a breaker allowed is recorded, cancelled ones too.
   */
  attemptEnded(u: Upstream, outcome: Outcome, latencyMs: number): void {
    const now = this.#now();
    this.outlier?.record(u.id, outcome, now);
    // A backend's breaker is made with its first attempt (10,000 registered backends hold none until used).
    if (u.breaker === undefined && this.breakers !== undefined && this.#upstreams.get(u.id) === u) u.breaker = this.breakers.get(u.id);
    u.breaker?.record(outcome, now);
    if (outcome !== 'cancelled') this.#strategy.observe?.(u.id, latencyMs, outcome === 'success', now);
  }

  /** Why a healthy, active backend is still skipped, if it is (as of the last tick: nothing changes here). */
  blockedReason(u: Upstream): string | undefined {
    if (this.outlier?.isEjected(u.id)) return 'ejected';
    if (u.breaker !== undefined && u.breaker.state === 'open') return 'breaker-open';
    return undefined;
  }

  /**
   * A health check result for backend `id`: the event log hears of a verdict,
   * the upstream set of the new health. Recovering from unhealthy ends an
   * ejection (the check is fresher evidence than the failures that ejected
   * it), as Envoy does by default.
   */
  healthReported(id: string, status: HealthStatus): void {
    if (status !== 'unknown') this.#events.add(status, id);
    const u = this.#upstreams.get(id);
    const from = u?.health;
    this.#upstreams.setHealth(id, status);
    if (u !== undefined && from === 'unhealthy' && status === 'healthy') this.outlier?.uneject(u.id, this.#now());
  }

  /** Breaker, ejection and weight facts for /stats and /metrics. */
  facts(u: Upstream): { breaker: 'closed' | 'open' | 'half-open'; ejected: boolean; effectiveWeight: number } {
    return {
      breaker: u.breaker?.state ?? 'closed',
      ejected: this.outlier?.isEjected(u.id) ?? false,
      effectiveWeight: this.#strategy.weightOf?.(u) ?? u.weight,
    };
  }

  sections(): Record<string, unknown> {
    const now = this.#now();
    return {
      resilience: {
        panic: this.#panic,
        panicThresholdPercent: this.#panicPercent,
        retryBudget: this.retryBudget.status(),
        outlier: this.outlier ? this.outlier.snapshot(now).filter((o) => o.ejected || o.ejections > 0 || o.consecutiveFailures > 0) : null,
        breakers: this.breakers ? this.breakers.snapshot(now).filter((b) => b.state !== 'closed' || b.failures > 0) : null,
      },
    };
  }

  #membersChanged(active: readonly Upstream[]): void {
    const now = this.#now();
    this.outlier?.setMembers(
      active.map((u) => u.id),
      now,
    );
    if (this.breakers) {
      this.breakers.setMembers(active.map((u) => u.id));
      for (const u of active) u.breaker = this.breakers.existing(u.id);
    }
  }
}
