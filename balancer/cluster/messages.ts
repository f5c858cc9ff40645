import type { HistogramData } from '../stats/wait-histogram.js';
import type { ErrorCode } from '../../common/errors.js';
import type { RegistrySnapshot, RegistryStatus } from '../../common/registry/registry.js';
import type { HealthStatus } from '../health/health-state.js';
import type { AdmissionStatus } from '../resilience/admission-control.js';
import type { RetryBudgetStatus } from '../resilience/retry-budget.js';
import type { LbEventType } from '../stats/event-log.js';

/**
 * IPC between a cluster primary (registry, health checks, admin API) and its
 * workers (the proxy). Every message carries `swy: 1` so cluster's own
 * messages are never mistaken for ours.
 */
export type ToWorker =
  | { readonly swy: 1; readonly t: 'snapshot'; readonly snapshot: RegistrySnapshot; readonly status: RegistryStatus }
  | { readonly swy: 1; readonly t: 'health'; readonly states: readonly CheckedHealth[] }
  | { readonly swy: 1; readonly t: 'strategy'; readonly name: string; readonly options: unknown }
  | { readonly swy: 1; readonly t: 'collect'; readonly seq: number };

export type ToPrimary =
  | { readonly swy: 1; readonly t: 'hello' }
  | { readonly swy: 1; readonly t: 'ready' }
  | { readonly swy: 1; readonly t: 'hint'; readonly id: string }
  | { readonly swy: 1; readonly t: 'event'; readonly type: LbEventType; readonly backendId?: string; readonly detail?: string }
  | { readonly swy: 1; readonly t: 'stats'; readonly seq: number; readonly stats: WorkerStats };

/**
 * A backend's health as the primary checked it, with the URL it checked: a
 * backend whose URL changes starts over, and a state about its old URL must
 * not make the new one healthy.
 */
export type CheckedHealth = readonly [id: string, status: HealthStatus, url: string];

export function isMessage<T extends { swy: 1 }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && (m as { swy?: unknown }).swy === 1;
}

/** One worker's counters and windows, merged by the primary for /stats and /metrics. */
export interface WorkerStats {
  readonly inFlight: number;
  readonly requestsTotal: number;
  readonly retriesTotal: number;
  readonly errors: readonly (readonly [ErrorCode, number])[];
  readonly admission: AdmissionStatus | null;
  readonly retryBudget: RetryBudgetStatus;
  readonly ejected: number;
  readonly upstreams: readonly WorkerUpstreamStats[];
  readonly waits: { readonly connection: HistogramData; readonly admissionQueue: HistogramData; readonly eventLoop: HistogramData };
}

export interface WorkerUpstreamStats {
  readonly id: string;
  readonly inFlight: number;
  readonly tunnels: number;
  readonly requests: number;
  readonly connectionsOpened: number;
  readonly failures: number;
  readonly responses: readonly [number, number, number, number];
  readonly lastError: { readonly code: ErrorCode; readonly at: number } | null;
  readonly latencyBuckets: readonly number[];
  readonly latencySumSeconds: number;
  readonly latencyCount: number;
  readonly window: { readonly count: number; readonly errors: number; readonly hist: readonly number[] };
  readonly series: readonly number[];
  readonly facts: { readonly breaker: 'closed' | 'open' | 'half-open'; readonly ejected: boolean; readonly effectiveWeight: number };
}
