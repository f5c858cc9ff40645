import type { RequestRecord } from './chaos-load.js';
import type { Action, Scenario } from './scenario.js';

/** A step as it ran: when (ms from the start of the load) and what. */
export interface StepRun {
  readonly atMs: number;
  readonly action: Action;
  readonly target: string;
  readonly convergeBoundMs: number | undefined;
}

/** A balancer event (GET /stats events), its time in ms from the start of the load. */
export interface SeenEvent {
  readonly atMs: number;
  readonly type: string;
  readonly backendId: string | undefined;
}

export interface StepReport {
  readonly strategy: string;
  /** When the step ran, ms from the start of the load. */
  readonly at: number;
  readonly action: Action;
  readonly target: string;
  /** Requests sent from this step to the next one (or the end of the load). */
  readonly sent: number;
  readonly lost: number;
  readonly lostIdempotent: number;
  readonly lostNonIdempotent: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** See convergence(): null when it did not happen before the next step, or does not apply. */
  readonly convergedMs: number | null;
  readonly convergeBoundMs: number | null;
  /** What convergedMs measures: 'removed' (out of rotation), 'back' (first request again) or null. */
  readonly converges: 'removed' | 'back' | null;
}

export interface RegistryCheck {
  readonly id: string;
  readonly routable: boolean;
  /** The process runs, is not paused and has no fault that fails it. */
  readonly serving: boolean;
}

export interface RunReport {
  readonly strategy: string;
  readonly ok: boolean;
  readonly sent: number;
  readonly lost: number;
  readonly lostIdempotent: number;
  readonly lostNonIdempotent: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly lostBy: Readonly<Record<string, number>>;
  readonly steps: readonly StepReport[];
  readonly registry: readonly RegistryCheck[];
  /** Each bound the run broke, in words. */
  readonly broken: readonly string[];
}

/** Events that take a backend out of rotation, as the balancer reports them. */
const OUT_EVENTS = new Set(['unhealthy', 'ejected', 'removed', 'breaker-opened']);

/** What a step's convergence is about. */
export function converges(action: Action): 'removed' | 'back' | null {
  switch (action) {
    case 'kill':
    case 'stop':
    case 'pause':
    case 'flap':
      return 'removed';
    case 'start':
    case 'unpause':
    case 'clear-fault':
      return 'back';
    case 'fault':
      return null;
  }
}

/**
 * Convergence of one step: for a fault that takes the target out ('removed'),
 * from the step to the balancer's first event that took it out of rotation;
 * for a recovery ('back'), from the step to the first request sent that the
 * target answered. Null when that did not happen before `untilMs`.
 */
export function convergence(
  step: StepRun,
  records: readonly RequestRecord[],
  events: readonly SeenEvent[],
  untilMs: number,
  kind = converges(step.action),
): number | null {
  if (kind === 'removed') {
    const e = events.find((x) => x.atMs >= step.atMs && x.atMs < untilMs && x.backendId === step.target && OUT_EVENTS.has(x.type));
    return e === undefined ? null : Math.max(0, e.atMs - step.atMs);
  }
  if (kind === 'back') {
    let first = Infinity;
    for (const r of records) if (r.ok && r.backend === step.target && r.sentMs >= step.atMs && r.sentMs < untilMs && r.sentMs < first) first = r.sentMs;
    return first === Infinity ? null : first - step.atMs;
  }
  return null;
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);

interface Window {
  sent: number;
  lost: number;
  lostIdempotent: number;
  lostNonIdempotent: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

function summarize(records: readonly RequestRecord[]): Window {
  const latencies: number[] = [];
  let lostIdempotent = 0;
  let lostNonIdempotent = 0;
  for (const r of records) {
    if (!r.ok) {
      if (r.method === 'GET') lostIdempotent++;
      else lostNonIdempotent++;
    }
    if (r.status !== 0) latencies.push(r.doneMs - r.sentMs);
  }
  latencies.sort((a, b) => a - b);
  return {
    sent: records.length,
    lost: lostIdempotent + lostNonIdempotent,
    lostIdempotent,
    lostNonIdempotent,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  };
}

/** The report of one run: per step, totals, the registry against reality, and the bounds it broke. Pure. */
export function buildRunReport(
  scenario: Scenario,
  strategy: string,
  steps: readonly StepRun[],
  records: readonly RequestRecord[],
  events: readonly SeenEvent[],
  registry: readonly RegistryCheck[],
  loadEndMs: number,
): RunReport {
  const stepReports = steps.map((s, i): StepReport => {
    const until = steps[i + 1]?.atMs ?? loadEndMs;
    const w = summarize(records.filter((r) => r.sentMs >= s.atMs && r.sentMs < until));
    const kind = converges(s.action);
    const c = convergence(s, records, events, kind === 'back' ? loadEndMs : until, kind);
    return {
      strategy,
      at: Math.round(s.atMs),
      action: s.action,
      target: s.target,
      ...w,
      convergedMs: c === null ? null : Math.round(c),
      convergeBoundMs: s.convergeBoundMs ?? null,
      converges: kind,
    };
  });
  const total = summarize(records);
  const lostBy: Record<string, number> = {};
  for (const r of records) if (!r.ok) lostBy[r.error ?? 'unknown'] = (lostBy[r.error ?? 'unknown'] ?? 0) + 1;

  const broken: string[] = [];
  const b = scenario.bounds;
  if (total.lostIdempotent > b.lostIdempotent) broken.push(`${total.lostIdempotent} idempotent requests lost (bound ${b.lostIdempotent})`);
  if (b.lostNonIdempotent !== undefined && total.lostNonIdempotent > b.lostNonIdempotent)
    broken.push(`${total.lostNonIdempotent} non-idempotent requests lost (bound ${b.lostNonIdempotent})`);
  for (const s of stepReports) {
    const name = `step at ${(s.at / 1000).toFixed(1)} s (${s.action} ${s.target})`;
    if (b.p99Ms !== undefined && s.p99Ms !== null && s.p99Ms > b.p99Ms) broken.push(`${name}: p99 ${s.p99Ms} ms (bound ${b.p99Ms} ms)`);
    if (s.convergeBoundMs !== null && (s.convergedMs === null || s.convergedMs > s.convergeBoundMs))
      broken.push(`${name}: converged ${s.convergedMs === null ? 'never' : `in ${s.convergedMs} ms`} (bound ${s.convergeBoundMs} ms)`);
  }
  for (const r of registry) if (r.routable && !r.serving) broken.push(`after the run the balancer routes to ${r.id}, which does not serve`);
  return { strategy, ok: broken.length === 0, ...total, lostBy, steps: stepReports, registry, broken };
}
