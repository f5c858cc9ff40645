import type { ErrorCode } from '../../common/errors.js';
import type { AdmissionStatus } from '../resilience/admission-control.js';
import type { RetryBudgetStatus } from '../resilience/retry-budget.js';
import type { HistogramData } from '../stats/wait-histogram.js';
import type { WorkerStats, WorkerUpstreamStats } from './messages.js';

const BREAKER_RANK = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * The stats of several balancer processes as one, in the same shape a single
 * process reports (worker-stats.ts): counters, histograms, windows and
 * history summed; a backend's breaker the worst any worker has, ejected when
 * any worker ejected it, its effective weight the workers' mean; the
 * admission figures summed, the largest ejection count. Pure: the primary's
 * view is built from what this returns.
 */
export function mergeStats(list: readonly WorkerStats[]): WorkerStats {
  const errors = new Map<ErrorCode, number>();
  const upstreams = new Map<string, WorkerUpstreamStats>();
  let admission: AdmissionStatus | null = null;
  let retryBudget: RetryBudgetStatus | undefined;
  let inFlight = 0;
  let requestsTotal = 0;
  let retriesTotal = 0;
  let ejected = 0;
  for (const s of list) {
    inFlight += s.inFlight;
    requestsTotal += s.requestsTotal;
    retriesTotal += s.retriesTotal;
    ejected = Math.max(ejected, s.ejected);
    for (const [code, n] of s.errors) errors.set(code, (errors.get(code) ?? 0) + n);
    for (const u of s.upstreams) {
      const had = upstreams.get(u.id);
      upstreams.set(u.id, had === undefined ? scaled(u, list.length) : addUpstream(had, u, list.length));
    }
    admission = s.admission === null ? admission : admission === null ? s.admission : addAdmission(admission, s.admission);
    retryBudget = retryBudget === undefined ? s.retryBudget : addRetryBudget(retryBudget, s.retryBudget);
  }
  const waits = list.map((s) => s.waits);
  return {
    inFlight,
    requestsTotal,
    retriesTotal,
    errors: [...errors],
    admission,
    retryBudget: retryBudget ?? EMPTY_RETRY_BUDGET,
    ejected,
    upstreams: [...upstreams.values()],
    waits: {
      connection: sumHistograms(waits.map((w) => w.connection)),
      admissionQueue: sumHistograms(waits.map((w) => w.admissionQueue)),
      eventLoop: sumHistograms(waits.map((w) => w.eventLoop)),
    },
  };
}

const EMPTY_RETRY_BUDGET: RetryBudgetStatus = { requests: 0, retries: 0, allowed: 0, granted: 0, rejected: 0, ratio: 0, minPerSecond: 0, windowMs: 0 };

/** A backend seen by its first worker: its weight counts for 1/workers of the mean. */
function scaled(u: WorkerUpstreamStats, workers: number): WorkerUpstreamStats {
  return { ...u, facts: { ...u.facts, effectiveWeight: u.facts.effectiveWeight / workers } };
}

function addUpstream(a: WorkerUpstreamStats, b: WorkerUpstreamStats, workers: number): WorkerUpstreamStats {
  return {
    id: a.id,
    inFlight: a.inFlight + b.inFlight,
    tunnels: a.tunnels + b.tunnels,
    requests: a.requests + b.requests,
    connectionsOpened: a.connectionsOpened + b.connectionsOpened,
    failures: a.failures + b.failures,
    responses: [a.responses[0] + b.responses[0], a.responses[1] + b.responses[1], a.responses[2] + b.responses[2], a.responses[3] + b.responses[3]],
    lastError: b.lastError !== null && (a.lastError === null || b.lastError.at > a.lastError.at) ? b.lastError : a.lastError,
    latencyBuckets: sumArrays(a.latencyBuckets, b.latencyBuckets),
    latencySumSeconds: a.latencySumSeconds + b.latencySumSeconds,
    latencyCount: a.latencyCount + b.latencyCount,
    window: { count: a.window.count + b.window.count, errors: a.window.errors + b.window.errors, hist: sumArrays(a.window.hist, b.window.hist) },
    series: sumArrays(a.series, b.series),
    facts: {
      breaker: BREAKER_RANK[b.facts.breaker] > BREAKER_RANK[a.facts.breaker] ? b.facts.breaker : a.facts.breaker,
      ejected: a.facts.ejected || b.facts.ejected,
      effectiveWeight: a.facts.effectiveWeight + b.facts.effectiveWeight / workers,
    },
  };
}

function addAdmission(a: AdmissionStatus, b: AdmissionStatus): AdmissionStatus {
  return {
    inFlight: a.inFlight + b.inFlight,
    queued: a.queued + b.queued,
    limit: a.limit + b.limit,
    queueSize: a.queueSize + b.queueSize,
    queueTimeoutMs: b.queueTimeoutMs,
    admitted: a.admitted + b.admitted,
    queuedTotal: a.queuedTotal + b.queuedTotal,
    rejected: a.rejected + b.rejected,
    timedOut: a.timedOut + b.timedOut,
    cancelled: a.cancelled + b.cancelled,
  };
}

function addRetryBudget(a: RetryBudgetStatus, b: RetryBudgetStatus): RetryBudgetStatus {
  return {
    ...b,
    requests: a.requests + b.requests,
    retries: a.retries + b.retries,
    allowed: a.allowed + b.allowed,
    granted: a.granted + b.granted,
    rejected: a.rejected + b.rejected,
  };
}

function sumHistograms(list: readonly HistogramData[]): HistogramData {
  let counts: readonly number[] = [];
  let sumSeconds = 0;
  for (const h of list) {
    counts = sumArrays(counts, h.counts);
    sumSeconds += h.sumSeconds;
  }
  return { counts, sumSeconds };
}

function sumArrays(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(Math.max(a.length, b.length));
  for (let i = 0; i < out.length; i++) out[i] = (a[i] ?? 0) + (b[i] ?? 0);
  return out;
}
