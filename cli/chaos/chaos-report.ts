import type { RequestRecord } from './chaos-load.js';
import type { Action, Scenario, Step } from './scenario.js';
import { percentile } from '../percentile.js';

/** A step as it ran: when (ms from the start of the load), what, and the backends it was about. */
export interface StepRun {
  readonly atMs: number;
  readonly action: Action;
  readonly target: string;
  /** Registry ids of the backends the step is about (set once the target carried it out). */
  targets: readonly string[];
  /** When the fault took effect, ms from the start of the load: Docker's event on Compose (the first of them), else atMs. */
  faultAtMs: number;
  /** When it took effect for each backend, where known (a scale starts or stops each replica at its own time). Convergence runs from here. */
  faultAtById: ReadonlyMap<string, number>;
  /** What its convergence measures (see converges()). */
  readonly converges: 'removed' | 'back' | null;
  readonly convergeBoundMs: number | undefined;
  /** The step's own bounds (its requests then count against these, not the scenario's). */
  readonly bounds?: StepBounds | undefined;
  /** Why the target could not carry the step out (the Docker command failed, say); set when it could not. */
  error?: string;
}

export type StepBounds = NonNullable<Step['bounds']>;

/** A balancer event (GET /stats events), its time in ms from the start of the load. */
export interface SeenEvent {
  readonly atMs: number;
  readonly type: string;
  readonly backendId: string | undefined;
  readonly detail?: string;
}

/** What a set of requests came to: sent, lost (idempotent and not), latency of those answered. */
export interface Tally {
  readonly sent: number;
  readonly lost: number;
  readonly lostIdempotent: number;
  readonly lostNonIdempotent: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** One step; its tally is of the requests sent from it to the next one (or the end of the load). */
export interface StepReport extends Tally {
  readonly strategy: string;
  /** When the step ran, ms from the start of the load. */
  readonly at: number;
  /** When its fault took effect (Docker's event on Compose; else when it ran). */
  readonly faultAt: number;
  readonly action: Action;
  readonly target: string;
  /** See convergence(): null when it did not happen before the next step, or does not apply. */
  readonly convergedMs: number | null;
  readonly convergeBoundMs: number | null;
  /** What convergedMs measures: 'removed' (out of rotation), 'back' (first request again) or null. */
  readonly converges: 'removed' | 'back' | null;
  /** Why the step could not be carried out, when it could not (its convergence is then not judged). */
  readonly error?: string;
}

export interface RegistryCheck {
  readonly id: string;
  readonly routable: boolean;
  /** The process runs, is not paused and has no fault that fails it. */
  readonly serving: boolean;
}

/** One run; its tally is of every request. */
export interface RunReport extends Tally {
  readonly strategy: string;
  readonly ok: boolean;
  readonly lostBy: Readonly<Record<string, number>>;
  readonly steps: readonly StepReport[];
  readonly registry: readonly RegistryCheck[];
  /** Each bound the run broke, in words. */
  readonly broken: readonly string[];
}

/** Events that take a backend out of rotation, as the balancer reports them (a drain is a state change to draining). */
const OUT_EVENTS = new Set(['unhealthy', 'ejected', 'removed', 'breaker-opened']);
const isOut = (e: SeenEvent): boolean => OUT_EVENTS.has(e.type) || (e.type === 'state-changed' && (e.detail ?? '').endsWith('-> draining'));

/**
 * What a step's convergence is about: a backend out of rotation, back in, or
 * nothing; for scale, whether it adds backends (`up`) or removes them; for a
 * fault, whether it fails the backend (a slow one stays in).
 */
export function converges(action: Action, up = true, failing = false): 'removed' | 'back' | null {
  switch (action) {
    case 'scale':
      return up ? 'back' : 'removed';
    case 'restart':
      return null;
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
      return failing ? 'removed' : null;
  }
}

/**
 * Convergence of one step: for a fault that takes backends out ('removed'),
 * from the step to the balancer's first event that took each out of
 * rotation; for a recovery or new backends ('back'), from the step to the
 * first request sent that each answered. The slowest of its backends counts;
 * null when one of them did not get there before `untilMs`, or when the step
 * is about no backend.
 */
export function convergence(step: StepRun, records: readonly RequestRecord[], events: readonly SeenEvent[], untilMs: number): number | null {
  if (step.converges === null || step.targets.length === 0) return null;
  let worst = 0;
  for (const id of step.targets) {
    let at: number | undefined;
    if (step.converges === 'removed') at = events.find((x) => x.atMs >= step.atMs && x.atMs < untilMs && x.backendId === id && isOut(x))?.atMs;
    else
      for (const r of records)
        if (r.ok && r.backend === id && r.sentMs >= step.atMs && r.sentMs < untilMs && (at === undefined || r.sentMs < at)) at = r.sentMs;
    if (at === undefined) return null;
    worst = Math.max(worst, at - (step.faultAtById.get(id) ?? step.faultAtMs));
  }
  return worst;
}

const round = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);

function summarize(records: readonly RequestRecord[]): Tally {
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
    const kind = s.converges;
    const c = convergence(s, records, events, kind === 'back' ? loadEndMs : until);
    return {
      strategy,
      at: Math.round(s.atMs),
      faultAt: Math.round(s.faultAtMs),
      action: s.action,
      target: s.target,
      ...w,
      convergedMs: c === null ? null : Math.round(c),
      convergeBoundMs: s.convergeBoundMs ?? null,
      converges: kind,
      ...(s.error === undefined ? {} : { error: s.error }),
    };
  });
  const total = summarize(records);
  const lostBy: Record<string, number> = {};
  for (const r of records) if (!r.ok) lostBy[r.error ?? 'unknown'] = (lostBy[r.error ?? 'unknown'] ?? 0) + 1;

  const broken: string[] = [];
  const b = scenario.bounds;
  // A step with a lost bound of its own answers for its requests; the scenario's bound for the rest.
  const own = (kind: 'lostIdempotent' | 'lostNonIdempotent'): number =>
    stepReports.reduce((n, s, i) => n + (steps[i]!.bounds?.[kind] !== undefined ? s[kind] : 0), 0);
  const ownGet = own('lostIdempotent');
  const ownPost = own('lostNonIdempotent');
  const rest = (n: number): string => (n > 0 ? ' outside the steps with a bound of their own' : '');
  if (total.lostIdempotent - ownGet > b.lostIdempotent)
    broken.push(`${total.lostIdempotent - ownGet} idempotent requests lost${rest(ownGet)} (bound ${b.lostIdempotent})`);
  if (b.lostNonIdempotent !== undefined && total.lostNonIdempotent - ownPost > b.lostNonIdempotent)
    broken.push(`${total.lostNonIdempotent - ownPost} non-idempotent requests lost${rest(ownPost)} (bound ${b.lostNonIdempotent})`);
  stepReports.forEach((s, i) => {
    const name = `step at ${(s.at / 1000).toFixed(1)} s (${s.action} ${s.target})`;
    const sb = steps[i]!.bounds;
    if (sb?.lostIdempotent !== undefined && s.lostIdempotent > sb.lostIdempotent)
      broken.push(`${name}: ${s.lostIdempotent} idempotent requests lost (bound ${sb.lostIdempotent})`);
    if (sb?.lostNonIdempotent !== undefined && s.lostNonIdempotent > sb.lostNonIdempotent)
      broken.push(`${name}: ${s.lostNonIdempotent} non-idempotent requests lost (bound ${sb.lostNonIdempotent})`);
    const p99 = sb?.p99Ms ?? b.p99Ms;
    if (p99 !== undefined && s.p99Ms !== null && s.p99Ms > p99) broken.push(`${name}: p99 ${s.p99Ms} ms (bound ${p99} ms)`);
    // A step the target could not carry out broke the run: said as such, not as a convergence that never came.
    if (s.error !== undefined) broken.push(`${name}: could not be carried out: ${s.error}`);
    else if (s.convergeBoundMs !== null && (s.convergedMs === null || s.convergedMs > s.convergeBoundMs))
      broken.push(`${name}: converged ${s.convergedMs === null ? 'never' : `in ${s.convergedMs} ms`} (bound ${s.convergeBoundMs} ms)`);
  });
  for (const r of registry) if (r.routable && !r.serving) broken.push(`after the run the balancer routes to ${r.id}, which does not serve`);
  return { strategy, ok: broken.length === 0, ...total, lostBy, steps: stepReports, registry, broken };
}
