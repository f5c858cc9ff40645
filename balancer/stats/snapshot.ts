import type { BalancerView, UpstreamView } from '../balancer-view.js';
import type { LbEvent } from './event-log.js';
import { WAIT_BUCKETS_SECONDS, type WaitHistogram } from './wait-histogram.js';

/** Seconds the rates, latencies and error rates in a snapshot are computed over. */
export const RATE_WINDOW_SECONDS = 5;
/** Seconds of per-second history sent for the traffic-share chart. */
export const HISTORY_SECONDS = 120;

export interface BackendStats {
  readonly id: string;
  readonly url: string;
  readonly health: string;
  /** active, draining, ejected or unroutable reason: what the dashboard shows as the state. */
  readonly state: string;
  readonly registryState: string;
  readonly breaker: string;
  readonly ejected: boolean;
  readonly routable: boolean;
  readonly weight: number;
  readonly effectiveWeight: number;
  readonly inFlight: number;
  readonly tunnels: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errorRate: number;
  /** This backend's share of the responses in the rate window, 0 to 1. */
  readonly share: number;
  readonly totals: { readonly attempts: number; readonly failures: number; readonly responses: Readonly<Record<string, number>> };
  readonly lastCheck: { readonly outcome: string; readonly at: string; readonly durationMs: number } | null;
  /** Responses per second, oldest first, over the last HISTORY_SECONDS seconds. */
  readonly history: readonly number[];
}

export interface StatsSnapshot {
  readonly instanceId: string;
  readonly at: string;
  readonly uptimeSeconds: number;
  readonly strategy: string;
  readonly engine: string;
  readonly listener: string;
  readonly requestsPerSecond: number;
  readonly inFlight: number;
  readonly totals: { readonly requests: number; readonly retries: number; readonly errors: Readonly<Record<string, number>> };
  readonly registry: ReturnType<BalancerView['registry']['status']>;
  readonly backends: readonly BackendStats[];
  readonly events: readonly LbEvent[];
  /**
   * The wait histograms since start (counts per bucket, the last +Inf): the
   * dashboard turns the difference between two snapshots into the recent p99.
   */
  readonly waits: {
    readonly bucketsSeconds: readonly number[];
    readonly eventLoop: readonly number[];
    readonly connection: readonly number[];
    readonly admissionQueue: readonly number[];
  };
  /** Extra sections added by optional parts (admission queue, retry budget...). */
  readonly [section: string]: unknown;
}

/** Extra facts a resilience part can add to a backend's stats. */
export interface BackendStatsExtension {
  (u: UpstreamView): { breaker?: string; ejected?: boolean; effectiveWeight?: number };
}

/**
 * One snapshot of everything the dashboard shows. Built once per second for
 * all SSE clients, and on demand for GET /stats.
 */
export function buildSnapshot(lb: BalancerView, now: number, extend?: BackendStatsExtension, sections: Record<string, unknown> = {}): StatsSnapshot {
  const t = lb.totals();
  const summaries = lb.upstreams.all.map((u) => u.window.summary(RATE_WINDOW_SECONDS));
  const totalCount = summaries.reduce((n, s) => n + s.count, 0);
  const backends = lb.upstreams.all.map((u, i): BackendStats => {
    const s = summaries[i]!;
    const ext = extend?.(u) ?? {};
    const check = lb.health.state(u.id)?.last;
    const ejected = ext.ejected ?? false;
    return {
      id: u.id,
      url: u.url,
      health: u.health,
      state: u.spec.state === 'draining' ? 'draining' : ejected ? 'ejected' : 'active',
      registryState: u.spec.state,
      breaker: ext.breaker ?? 'closed',
      ejected,
      routable: u.routable,
      weight: u.spec.weight,
      effectiveWeight: ext.effectiveWeight ?? u.weight,
      inFlight: u.inFlight,
      tunnels: u.tunnels,
      requestsPerSecond: round(s.perSecond, 1),
      p50Ms: round(s.p50Ms, 2),
      p99Ms: round(s.p99Ms, 2),
      errorRate: round(s.errorRate, 4),
      share: totalCount ? round(s.count / totalCount, 4) : 0,
      totals: {
        attempts: u.requests,
        failures: u.failures,
        responses: { '2xx': u.responses1xx2xx, '3xx': u.responses3xx, '4xx': u.responses4xx, '5xx': u.responses5xx },
      },
      lastCheck: check ? { outcome: check.outcome, at: new Date(check.at).toISOString(), durationMs: check.durationMs } : null,
      history: u.window.series(HISTORY_SECONDS),
    };
  });
  return {
    instanceId: lb.profile.instanceId,
    at: new Date(now).toISOString(),
    uptimeSeconds: Math.round((now - lb.startedAt) / 1000),
    strategy: lb.strategy.name,
    engine: lb.profile.engine,
    listener: lb.profile.listener,
    requestsPerSecond: round(
      backends.reduce((n, b) => n + b.requestsPerSecond, 0),
      1,
    ),
    inFlight: t.inFlight,
    totals: { requests: t.requestsTotal, retries: t.retriesTotal, errors: Object.fromEntries(t.errors) },
    registry: lb.registry.status(),
    backends,
    events: lb.events.recent(50),
    waits: {
      bucketsSeconds: WAIT_BUCKETS_SECONDS,
      eventLoop: counts(lb.waits.eventLoop),
      connection: counts(lb.waits.connection),
      admissionQueue: counts(lb.waits.admissionQueue),
    },
    ...sections,
  };
}

function counts(h: WaitHistogram): number[] {
  return Array.from(h.counts);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
