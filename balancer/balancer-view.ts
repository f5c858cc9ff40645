import type { EdgeView } from './admin/edge-routes.js';
import type { WaitHistogram } from './stats/wait-histogram.js';
import type { BackendSpec } from '../common/backend.js';
import type { ErrorCode } from '../common/errors.js';
import type { Registry } from '../common/registry/registry.js';
import type { CheckResult } from './health/health-checker.js';
import type { HealthState, HealthStatus } from './health/health-state.js';
import type { AdmissionStatus } from './resilience/admission-control.js';
import type { EventLog } from './stats/event-log.js';
import type { WindowSummary } from './stats/rolling-window.js';

/** What the admin API, /stats and /metrics read of one backend. */
export interface UpstreamView {
  readonly id: string;
  readonly url: string;
  readonly spec: BackendSpec;
  readonly health: HealthStatus;
  readonly healthChangedAt: number;
  readonly routable: boolean;
  readonly weight: number;
  readonly inFlight: number;
  readonly tunnels: number;
  readonly requests: number;
  /** Connections opened to it (any engine): how fast its pool grows. */
  readonly connectionsOpened: number;
  readonly failures: number;
  readonly responses1xx2xx: number;
  readonly responses3xx: number;
  readonly responses4xx: number;
  readonly responses5xx: number;
  readonly lastError: { readonly code: ErrorCode; readonly at: number } | undefined;
  readonly latencyBuckets: ArrayLike<number>;
  readonly latencySumSeconds: number;
  readonly latencyCount: number;
  readonly window: { summary(span: number): WindowSummary; series(span: number): number[] };
}

/** Breaker, ejection and weight facts of one backend from the resilience parts. */
export interface BackendFacts {
  readonly breaker: 'closed' | 'open' | 'half-open';
  readonly ejected: boolean;
  readonly effectiveWeight: number;
}

/**
 * The read side of a balancer, as the admin API sees it. A single-process
 * Balancer is one; a cluster primary is another, serving the merged view of
 * its workers. Mutations go through the registry and setStrategy().
 */
/** The wait histograms of a balancer (summed over the workers for a cluster primary). */
export interface RequestWaits {
  /** From an attempt's start to its request going out on a connection to the backend. */
  readonly connection: WaitHistogram;
  /** Time spent in the admission queue by the requests that waited there. */
  readonly admissionQueue: WaitHistogram;
  /** The event loop's delay (each 10 ms sample, past the sampling resolution). */
  readonly eventLoop: WaitHistogram;
}

/** Admission as the admin API shows it. */
export type AdmissionView = AdmissionStatus & { readonly adaptive: boolean; readonly limiter: unknown };

/**
 * The balancer-wide figures, the same model from a single process and from a
 * cluster primary (its workers' merged by cluster/merge-stats.ts).
 */
export interface BalancerTotals {
  readonly inFlight: number;
  readonly requestsTotal: number;
  readonly retriesTotal: number;
  readonly errors: ReadonlyMap<ErrorCode, number>;
  /** Undefined when there is no admission cap. */
  readonly admission: AdmissionView | undefined;
  /** Retries the retry budget refused. */
  readonly retryRejections: number;
  /** Backends outlier detection has ejected now (with workers: the most any one has). */
  readonly ejected: number;
}

/** What a balancer is, and how it reports: the same from a single process and a cluster primary. */
export interface BalancerProfile {
  readonly instanceId: string;
  readonly engine: string;
  /** How client connections are read (--listener). */
  readonly listener: string;
  /** Backends with series of their own in /metrics (the rest are summed); undefined: the default. */
  readonly metricsBackendLimit: number | undefined;
}

export interface BalancerView {
  readonly profile: BalancerProfile;
  readonly registry: Registry;
  readonly listening: boolean;
  readonly upstreams: {
    readonly all: readonly UpstreamView[];
    readonly routable: readonly UpstreamView[];
    readonly version: number;
    get(id: string): UpstreamView | undefined;
  };
  readonly health: { state(id: string): { readonly health: HealthState; readonly last?: CheckResult } | undefined };
  readonly events: EventLog;
  readonly strategy: { readonly name: string };
  readonly startedAt: number;
  totals(): BalancerTotals;
  /** What requests waited for, and the event loop's delay (docs/observability.md). */
  readonly waits: RequestWaits;
  info(): Record<string, unknown>;
  /** Switches the strategy live. `spec` is how it was asked for (workers rebuild it from that). */
  setStrategy(strategy: { readonly name: string }, spec: { readonly name: string; readonly options: unknown }): void;
  facts(u: UpstreamView): BackendFacts;
  /** Extra /stats sections: resilience state, admission. */
  sections(): Record<string, unknown>;
  /** Brings the view up to date before a read (a cluster primary asks its workers). */
  collect?(): Promise<void>;
  /** True when `url` is an address of this balancer: registering it as a backend would make requests loop. */
  isSelf(url: string): boolean;
  /** Rate limits and bans (a single balancer; a cluster primary has none: each worker keeps its own). */
  readonly gate?: EdgeView['gate'];
}
