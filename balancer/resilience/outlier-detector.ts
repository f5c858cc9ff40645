import type { Outcome } from './outcome.js';

export interface OutlierDetectorOptions {
  /** Consecutive failures (5xx or transport) that eject a backend (Envoy consecutive_5xx). */
  readonly consecutiveFailures: number;
  /** Ejection time = base x times ejected, capped (Envoy base_ejection_time). */
  readonly baseEjectionMs: number;
  /** Cap on one ejection's length (Envoy max_ejection_time). */
  readonly maxEjectionMs: number;
  /**
   * Share of members that may be ejected at once. As in Envoy, a backend is
   * ejected only while ejected x 100 < percent x members, so one ejection is
   * always possible (even at 10 % of 3 backends); 0 turns ejection off.
   */
  readonly maxEjectionPercent: number;
  /** While not ejected, the times-ejected count drops by one per interval (Envoy `interval`). */
  readonly decayIntervalMs: number;
}

export const OUTLIER_DEFAULTS: OutlierDetectorOptions = Object.freeze({
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 10,
  decayIntervalMs: 10_000,
});

export type OutlierEvent =
  | { readonly type: 'ejected'; readonly id: string; readonly at: number; readonly until: number; readonly ejections: number }
  | { readonly type: 'returned'; readonly id: string; readonly at: number; readonly ejections: number }
  /** The threshold was reached but the cap on ejected backends stopped the ejection. */
  | { readonly type: 'overflow'; readonly id: string; readonly at: number; readonly ejected: number };

export interface OutlierInfo {
  readonly id: string;
  readonly ejected: boolean;
  readonly ejectedUntil: number | undefined;
  readonly ejections: number;
  readonly consecutiveFailures: number;
}

interface Host {
  readonly id: string;
  consecutive: number;
  ejections: number;
  /** 0 when not ejected. */
  ejectedUntil: number;
  /** Decay of `ejections` counts from here. */
  decayFrom: number;
}

const noop = (): void => undefined;

/**
 * Passive outlier detection (Envoy consecutive_5xx). The proxy calls
 * `record()` after every attempt, `isEjected()` (or reacts to events) to
 * keep ejected backends out of the routable set, and `sweep()` in its tick,
 * the only place an ejection ends by time (as Envoy un-ejects in its interval
 * timer). `isEjected()` and `snapshot()` only read.
 */
export class OutlierDetector {
  readonly options: OutlierDetectorOptions;
  readonly #onEvent: (e: OutlierEvent) => void;
  readonly #hosts = new Map<string, Host>();
  readonly #maxMultiplier: number;
  #ejected = 0;
  #membersKnown = false;

  constructor(options: Partial<OutlierDetectorOptions> = {}, onEvent: (e: OutlierEvent) => void = noop) {
    const o = { ...OUTLIER_DEFAULTS, ...options };
    if (!Number.isInteger(o.consecutiveFailures) || o.consecutiveFailures < 1) {
      throw new RangeError(`invalid outlierConsecutiveFailures ${o.consecutiveFailures}; expected an integer >= 1`);
    }
    for (const k of ['baseEjectionMs', 'maxEjectionMs', 'decayIntervalMs'] as const) {
      if (!(o[k] > 0) || !Number.isFinite(o[k])) throw new RangeError(`invalid ${k} ${o[k]}; expected a positive number of milliseconds`);
    }
    if (o.maxEjectionMs < o.baseEjectionMs) throw new RangeError(`maxEjectionMs ${o.maxEjectionMs} is below baseEjectionMs ${o.baseEjectionMs}`);
    if (!(o.maxEjectionPercent >= 0 && o.maxEjectionPercent <= 100)) {
      throw new RangeError(`invalid maxEjectionPercent ${o.maxEjectionPercent}; expected 0 to 100`);
    }
    this.options = Object.freeze(o);
    this.#onEvent = onEvent;
    this.#maxMultiplier = Math.ceil(o.maxEjectionMs / o.baseEjectionMs);
  }

  /** The backends the percentage is taken of (all active backends); state of others is dropped. */
  setMembers(ids: Iterable<string>, now: number): void {
    this.#membersKnown = true;
    const keep = new Set(ids);
    for (const [id, h] of this.#hosts) {
      if (keep.has(id)) continue;
      if (h.ejectedUntil > 0) this.#ejected--;
      this.#hosts.delete(id);
    }
    for (const id of keep) if (!this.#hosts.has(id)) this.#hosts.set(id, newHost(id, now));
  }

  /**
   * One finished attempt to `id`. Results that arrive while it is ejected
   * (until the tick returns it) are ignored, and so are results for ids outside the members once setMembers()
   * has been called (late responses from a removed backend); before that,
   * an unknown id joins the members.
   */
  record(id: string, outcome: Outcome, now: number): void {
    if (outcome === 'cancelled') return;
    let h = this.#hosts.get(id);
    if (h === undefined) {
      if (this.#membersKnown) return;
      h = newHost(id, now);
      this.#hosts.set(id, h);
    }
    if (h.ejectedUntil > 0) return;
    this.#decay(h, now);
    if (outcome === 'success') {
      h.consecutive = 0;
      return;
    }
    if (++h.consecutive < this.options.consecutiveFailures) return;
    h.consecutive = 0;
    if (this.#ejected * 100 >= this.options.maxEjectionPercent * this.#hosts.size) {
      this.#onEvent({ type: 'overflow', id, at: now, ejected: this.#ejected });
      return;
    }
    h.ejections = Math.min(h.ejections + 1, this.#maxMultiplier);
    h.ejectedUntil = now + Math.min(this.options.baseEjectionMs * h.ejections, this.options.maxEjectionMs);
    this.#ejected++;
    this.#onEvent({ type: 'ejected', id, at: now, until: h.ejectedUntil, ejections: h.ejections });
  }

  /** Ejected as of the last tick. */
  isEjected(id: string): boolean {
    const h = this.#hosts.get(id);
    return h !== undefined && h.ejectedUntil > 0;
  }

  /** The tick: returns every backend whose ejection has ended (emitting `returned`). */
  sweep(now: number): void {
    for (const h of this.#hosts.values()) this.#returnIfDue(h, now);
  }

  /**
   * Ends an ejection early: an active health check saw the backend recover
   * (Envoy's successful_active_health_check_uneject_host). The ejection count
   * stays, so a relapse is ejected for longer.
   */
  uneject(id: string, now: number): void {
    const h = this.#hosts.get(id);
    if (h === undefined || h.ejectedUntil === 0) return;
    h.ejectedUntil = now;
    this.#returnIfDue(h, now);
  }

  /** When the next ejection ends, for a one-shot timer; undefined when none is ejected. */
  nextReturnAt(): number | undefined {
    let next: number | undefined;
    for (const h of this.#hosts.values()) if (h.ejectedUntil > 0 && (next === undefined || h.ejectedUntil < next)) next = h.ejectedUntil;
    return next;
  }

  /** Backends ejected now (as of the last record/sweep). */
  get ejectedCount(): number {
    return this.#ejected;
  }

  /** Every member's state; `now` only ages the ejection counts shown (nothing changes). */
  snapshot(now: number): OutlierInfo[] {
    const out: OutlierInfo[] = [];
    for (const h of this.#hosts.values()) {
      out.push({
        id: h.id,
        ejected: h.ejectedUntil > 0,
        ejectedUntil: h.ejectedUntil > 0 ? h.ejectedUntil : undefined,
        ejections: this.#decayed(h, now),
        consecutiveFailures: h.consecutive,
      });
    }
    return out;
  }

  #returnIfDue(h: Host, now: number): void {
    if (h.ejectedUntil === 0 || now < h.ejectedUntil) return;
    h.ejectedUntil = 0;
    h.consecutive = 0;
    h.decayFrom = now;
    this.#ejected--;
    this.#onEvent({ type: 'returned', id: h.id, at: now, ejections: h.ejections });
  }

  /** The ejection count with its decay up to `now` applied, without applying it. */
  #decayed(h: Host, now: number): number {
    if (h.ejections === 0 || h.ejectedUntil > 0) return h.ejections;
    return Math.max(0, h.ejections - Math.max(0, Math.floor((now - h.decayFrom) / this.options.decayIntervalMs)));
  }

  #decay(h: Host, now: number): void {
    if (h.ejections === 0 || h.ejectedUntil > 0) {
      h.decayFrom = Math.max(h.decayFrom, now);
      return;
    }
    const steps = Math.floor((now - h.decayFrom) / this.options.decayIntervalMs);
    if (steps <= 0) return;
    h.ejections = Math.max(0, h.ejections - steps);
    h.decayFrom += steps * this.options.decayIntervalMs;
  }
}

function newHost(id: string, now: number): Host {
  return { id, consecutive: 0, ejections: 0, ejectedUntil: 0, decayFrom: now };
}
