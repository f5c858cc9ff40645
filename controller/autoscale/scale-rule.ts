/**
 * How many replicas a service should run, by the rules of Kubernetes'
 * Horizontal Pod Autoscaler (autoscaling/v2), as pure functions:
 *
 * - desired = ceil(current × perReplica / target), where perReplica is the
 *   service's load (in-flight requests, or requests per second) over its
 *   running replicas; within the tolerance band (|perReplica / target − 1| ≤
 *   tolerance) the count stays as it is;
 * - recommendations are remembered: a scale-up takes the lowest of those in
 *   the up window (0 s by default: at once), a scale-down the highest of
 *   those in the down window (5 min by default), so a dip in load does not
 *   remove replicas that a rise a minute later would need again;
 * - the result is clamped to [min, max].
 */

export type LoadMetric = 'inflight' | 'rps';

export interface ScalePolicy {
  readonly min: number;
  readonly max: number;
  readonly metric: LoadMetric;
  /** Load per replica to aim for (in-flight requests, or requests per second). */
  readonly target: number;
  /** Relative band around the target in which nothing changes (HPA: 0.1). */
  readonly tolerance: number;
  readonly upWindowMs: number;
  readonly downWindowMs: number;
}

export interface Recommendation {
  readonly at: number;
  readonly replicas: number;
}

export interface ScaleDecision {
  /** The count to run now (may equal current). */
  readonly replicas: number;
  /** This tick's raw recommendation, before the windows and the bounds. */
  readonly recommended: number;
  readonly perReplica: number;
  /** Why, in words, for the log and the event list. */
  readonly reason: string;
  /** Recommendations to remember for the next tick (the windows' history). */
  readonly history: readonly Recommendation[];
}

/** The raw recommendation from the load: HPA's formula with its tolerance. */
export function recommend(current: number, totalLoad: number, policy: ScalePolicy): { replicas: number; perReplica: number; withinTolerance: boolean } {
  if (current <= 0) return { replicas: Math.max(policy.min, totalLoad > 0 ? 1 : 0), perReplica: totalLoad, withinTolerance: false };
  const perReplica = totalLoad / current;
  const ratio = perReplica / policy.target;
  if (Math.abs(ratio - 1) <= policy.tolerance) return { replicas: current, perReplica, withinTolerance: true };
  return { replicas: Math.ceil(current * ratio), perReplica, withinTolerance: false };
}

/** One tick for one service: the count to run, and the history to keep. */
export function decide(current: number, totalLoad: number, policy: ScalePolicy, history: readonly Recommendation[], now: number): ScaleDecision {
  const raw = recommend(current, totalLoad, policy);
  const keepFrom = now - Math.max(policy.upWindowMs, policy.downWindowMs);
  const kept = [...history.filter((r) => r.at > keepFrom && r.at <= now), { at: now, replicas: raw.replicas }];
  const inUp = kept.filter((r) => r.at > now - policy.upWindowMs || r.at === now);
  const inDown = kept.filter((r) => r.at > now - policy.downWindowMs || r.at === now);
  let next = current;
  const upTo = Math.min(...inUp.map((r) => r.replicas));
  const downTo = Math.max(...inDown.map((r) => r.replicas));
  if (upTo > current) next = upTo;
  else if (downTo < current) next = downTo;
  const bounded = Math.min(policy.max, Math.max(policy.min, next));
  const unit = policy.metric === 'inflight' ? 'in-flight requests' : 'requests/s';
  const load = `${round(raw.perReplica)} ${unit} per replica against a target of ${policy.target}`;
  let reason: string;
  if (bounded !== next) reason = `${load}: wants ${next}, held to the bounds [${policy.min}, ${policy.max}]`;
  else if (bounded > current) reason = `${load}: up from ${current} to ${bounded}`;
  else if (bounded < current)
    reason = `${load}: down from ${current} to ${bounded} (the highest recommendation of the last ${Math.round(policy.downWindowMs / 1000)} s)`;
  else if (raw.withinTolerance) reason = `${load}: within the ${Math.round(policy.tolerance * 100)} % tolerance`;
  else if (raw.replicas < current) reason = `${load}: would go down to ${raw.replicas}, waiting out the ${Math.round(policy.downWindowMs / 1000)} s window`;
  else reason = `${load}: would go up to ${raw.replicas}, waiting out the ${Math.round(policy.upWindowMs / 1000)} s window`;
  return { replicas: bounded, recommended: raw.replicas, perReplica: raw.perReplica, reason, history: kept };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** A service's policy from its labels (`<prefix>.autoscale.*`), or a reason it cannot be read; undefined when it has none. */
export function policyFromLabels(
  labels: Readonly<Record<string, string>>,
  prefix: string,
  defaults: Pick<ScalePolicy, 'tolerance' | 'upWindowMs' | 'downWindowMs'>,
): { ok: true; policy: ScalePolicy } | { ok: false; reason: string } | undefined {
  const p = `${prefix}.autoscale.`;
  const min = labels[`${p}min`];
  const max = labels[`${p}max`];
  const inflight = labels[`${p}target-inflight`];
  const rps = labels[`${p}target-rps`];
  if (min === undefined && max === undefined && inflight === undefined && rps === undefined) return undefined;
  const whole = (name: string, v: string | undefined, lo: number, hi: number): number | string => {
    if (v === undefined) return `label ${p}${name} is missing`;
    if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) return `label ${p}${name} is '${v}'; it must be a whole number from ${lo} to ${hi}`;
    return Number(v);
  };
  const lo = whole('min', min, 0, 1000);
  if (typeof lo === 'string') return { ok: false, reason: lo };
  const hi = whole('max', max, 1, 1000);
  if (typeof hi === 'string') return { ok: false, reason: hi };
  if (hi < lo) return { ok: false, reason: `label ${p}max (${hi}) is below ${p}min (${lo})` };
  if ((inflight === undefined) === (rps === undefined)) return { ok: false, reason: `set exactly one of ${p}target-inflight and ${p}target-rps` };
  const text = (inflight ?? rps)!;
  const target = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(target > 0) || target > 1e6)
    return { ok: false, reason: `label ${p}target-${inflight !== undefined ? 'inflight' : 'rps'} is '${text}'; it must be a number above 0` };
  return { ok: true, policy: { min: lo, max: hi, metric: inflight !== undefined ? 'inflight' : 'rps', target, ...defaults } };
}
