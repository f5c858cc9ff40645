import { sameSpec, type BackendSpec, type BackendState } from '../common/backend.js';

export type Operation =
  | { readonly kind: 'upsert'; readonly spec: BackendSpec; readonly isNew: boolean }
  | { readonly kind: 'set-state'; readonly id: string; readonly state: BackendState }
  | { readonly kind: 'remove'; readonly id: string };

export interface Conflict {
  readonly id: string;
  readonly reason: string;
}

export interface ReconcilePlan {
  /** Upserts first (capacity arrives), then state changes, then removals; each group by id. */
  readonly operations: readonly Operation[];
  /** Desired backends whose id is taken by an entry this controller does not own, or cannot read; left alone. */
  readonly conflicts: readonly Conflict[];
}

/** An id the registry lists whose entry could not be read (wrong type, malformed): its owner is unknown. */
export interface UnreadableEntry {
  readonly id: string;
  readonly reason: string;
}

/**
 * The writes that make the registry (`actual`) hold exactly the `desired`
 * backends, as a pure function. Only entries `owns` accepts are changed or
 * removed; an entry written by someone else is never touched, even when its
 * id is wanted, and neither is an `unreadable` one, whose writer cannot be
 * told. Applying the plan and reconciling again gives an empty plan.
 */
export function reconcile(
  desired: readonly BackendSpec[],
  actual: readonly BackendSpec[],
  owns: (spec: BackendSpec) => boolean,
  unreadable: readonly UnreadableEntry[] = [],
): ReconcilePlan {
  const current = new Map<string, BackendSpec>();
  for (const a of actual) current.set(a.id, a);
  const unknown = new Map<string, string>();
  for (const u of unreadable) unknown.set(u.id, u.reason);
  const wanted = new Map<string, BackendSpec>();
  for (const d of desired) if (!wanted.has(d.id)) wanted.set(d.id, d);

  const upserts: Operation[] = [];
  const states: Operation[] = [];
  const removes: Operation[] = [];
  const conflicts: Conflict[] = [];

  for (const d of [...wanted.values()].sort(byId)) {
    const a = current.get(d.id);
    if (a === undefined) {
      const why = unknown.get(d.id);
      if (why === undefined) upserts.push({ kind: 'upsert', spec: d, isNew: true });
      else conflicts.push({ id: d.id, reason: `the registry holds an entry for '${d.id}' that cannot be read (${why}); fix or delete it` });
    } else if (!owns(a)) {
      conflicts.push({ id: d.id, reason: `the registry already holds '${d.id}' (${a.url}) written by someone else (labels ${JSON.stringify(a.labels)})` });
    } else if (sameSpec(a, d)) {
      continue;
    } else if (sameSpec(a, { ...d, state: a.state })) {
      states.push({ kind: 'set-state', id: d.id, state: d.state });
    } else {
      upserts.push({ kind: 'upsert', spec: d, isNew: false });
    }
  }
  for (const a of [...actual].sort(byId)) {
    if (!wanted.has(a.id) && owns(a)) removes.push({ kind: 'remove', id: a.id });
  }
  return { operations: [...upserts, ...states, ...removes], conflicts };
}

/** The registry after a plan, as the pure counterpart of executing it (tests, dry runs). */
export function applyPlan(actual: readonly BackendSpec[], operations: readonly Operation[]): BackendSpec[] {
  const out = new Map<string, BackendSpec>();
  for (const a of actual) out.set(a.id, a);
  for (const op of operations) {
    if (op.kind === 'upsert') out.set(op.spec.id, op.spec);
    else if (op.kind === 'remove') out.delete(op.id);
    else {
      const prev = out.get(op.id);
      if (prev) out.set(op.id, { ...prev, state: op.state });
    }
  }
  return [...out.values()].sort(byId);
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
