import { isExcluded, type Candidate, type PickContext, type Strategy } from './strategy.js';

/** Reads a candidate's effective weight; the default reads `weight`. Bound once, never per pick. */
export type WeightOf<C> = (c: C) => number;

export interface WeightedRoundRobinOptions<C> {
  /** Effective weight (slow start, dynamic weights); default `c.weight`. */
  readonly weightOf?: WeightOf<C>;
  /** Name reported to the admin API; default `weighted-round-robin`. */
  readonly name?: string;
}

/** Per-backend scheduler state, kept by id so it survives changes of the routable array. */
interface Slot {
  readonly id: string;
  current: number;
  weight: number;
}

/** Per-array view: the slots in array order and a reusable weight buffer. */
interface ArrayState {
  readonly slots: Slot[];
  readonly weights: Float64Array;
}

const byWeight = <C extends Candidate>(c: C): number => c.weight;

function sanitize(w: number): number {
  return w > 0 && w < Number.POSITIVE_INFINITY ? w : 0;
}

/**
 * Smooth weighted round robin (the nginx algorithm): every pick adds each
 * candidate's weight to its `current`, picks the largest `current` (ties to
 * the lowest index) and takes the total weight off the winner.
 *
 * - With integer weights, every run of W = sum(weights) picks on an unchanged
 *   set gives candidate i exactly w_i picks, interleaved (3:1 gives a a b a).
 * - Weights are read on every pick, so a change takes effect at once with no
 *   rebuild. When weights change, the accumulated `current` values are scaled
 *   to the new total and re-centred, which bounds how far any candidate can
 *   run ahead: no burst to one backend after a change.
 * - O(N) per pick, no allocation once an array has been seen. The routable
 *   set is tens of backends, where a linear scan beats a heap (EDF).
 */
export class WeightedRoundRobin<C extends Candidate = Candidate> implements Strategy<C> {
  readonly name: string;
  readonly #weightOf: WeightOf<C>;
  readonly #slots = new Map<string, Slot>();
  readonly #arrays = new WeakMap<readonly C[], ArrayState>();

  constructor(options: WeightedRoundRobinOptions<C> = {}) {
    this.name = options.name ?? 'weighted-round-robin';
    this.#weightOf = options.weightOf ?? byWeight;
  }

  pick(candidates: readonly C[], _ctx?: PickContext, exclude?: readonly C[]): C | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const state = this.#stateFor(candidates);
    const { slots, weights } = state;

    let changed = false;
    for (let i = 0; i < n; i++) {
      const w = sanitize(this.#weightOf(candidates[i]));
      weights[i] = w;
      if (w !== slots[i].weight) changed = true;
    }
    if (changed) rescale(slots, weights);

    let best = -1;
    let bestCurrent = Number.NEGATIVE_INFINITY;
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (exclude !== undefined && isExcluded(candidates[i], exclude)) continue;
      const s = slots[i];
      s.current += weights[i];
      total += weights[i];
      if (s.current > bestCurrent) {
        bestCurrent = s.current;
        best = i;
      }
    }
    if (best < 0) return undefined;
    if (total === 0) return this.#pickUnweighted(candidates, slots, exclude);
    slots[best].current -= total;
    return candidates[best];
  }

  /** All eligible weights are zero: take turns as if every weight were 1. */
  #pickUnweighted(candidates: readonly C[], slots: Slot[], exclude: readonly C[] | undefined): C | undefined {
    let best = -1;
    let total = 0;
    for (let i = 0; i < candidates.length; i++) {
      if (exclude !== undefined && isExcluded(candidates[i], exclude)) continue;
      const s = slots[i];
      s.current += 1;
      total += 1;
      if (best < 0 || s.current > slots[best].current) best = i;
    }
    slots[best].current -= total;
    return candidates[best];
  }

  #stateFor(candidates: readonly C[]): ArrayState {
    const cached = this.#arrays.get(candidates);
    if (cached !== undefined && cached.slots.length === candidates.length) return cached;
    const n = candidates.length;
    if (this.#slots.size > 2 * n + 16) this.#prune(candidates);
    const slots: Slot[] = new Array<Slot>(n);
    for (let i = 0; i < n; i++) {
      const id = candidates[i].id;
      let s = this.#slots.get(id);
      if (s === undefined) {
        s = { id, current: 0, weight: sanitize(this.#weightOf(candidates[i])) };
        this.#slots.set(id, s);
      }
      slots[i] = s;
    }
    recentre(slots, totalOf(slots));
    const state: ArrayState = { slots, weights: new Float64Array(n) };
    this.#arrays.set(candidates, state);
    return state;
  }

  #prune(keep: readonly C[]): void {
    const ids = new Set<string>();
    for (const c of keep) ids.add(c.id);
    for (const id of this.#slots.keys()) if (!ids.has(id)) this.#slots.delete(id);
  }
}

function totalOf(slots: readonly Slot[]): number {
  let t = 0;
  for (const s of slots) t += s.weight;
  return t;
}

/** Weights changed: scale the accumulated credit to the new total, then re-centre. */
function rescale(slots: Slot[], weights: Float64Array): void {
  const before = totalOf(slots);
  let after = 0;
  for (let i = 0; i < slots.length; i++) after += weights[i];
  const ratio = before > 0 && after > 0 ? after / before : 0;
  for (let i = 0; i < slots.length; i++) {
    slots[i].current *= ratio;
    slots[i].weight = weights[i];
  }
  recentre(slots, after);
}

/** Keeps the credits summing to zero and within one round of total weight. */
function recentre(slots: Slot[], total: number): void {
  if (slots.length === 0) return;
  let sum = 0;
  for (const s of slots) sum += s.current;
  const mean = sum / slots.length;
  for (const s of slots) {
    const c = s.current - mean;
    s.current = c > total ? total : c < -total ? -total : c;
  }
}
