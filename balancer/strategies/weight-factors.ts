import { RollingCounts } from '../resilience/rolling-counts.js';

export interface WeightFactorsOptions {
  /** Half-life of the latency EWMA: a step change is half absorbed after this long. */
  readonly latencyHalfLifeMs: number;
  /**
   * Added to both sides of best/own latency so that noise between fast
   * identical backends (1.0 vs 1.4 ms) does not move weights much.
   */
  readonly latencySlackMs: number;
  /** Window of the failure ratio. */
  readonly failureWindowMs: number;
  /** Requests needed in the window before the failure ratio counts. */
  readonly minRequests: number;
  /** Floor: no backend's factor goes below this share of its base weight (traefik#12306). */
  readonly minWeightPercent: number;
  /** A backend's measurements count only this long after its first sample (Envoy client-side WRR). */
  readonly blackoutMs: number;
  /** Measurements older than this are dropped; the backend starts over (blackout again). */
  readonly staleAfterMs: number;
}

export const WEIGHT_FACTORS_DEFAULTS: WeightFactorsOptions = Object.freeze({
  latencyHalfLifeMs: 2_000,
  latencySlackMs: 5,
  failureWindowMs: 10_000,
  minRequests: 5,
  minWeightPercent: 10,
  blackoutMs: 10_000,
  staleAfterMs: 180_000,
});

/** What the admin API shows per backend. */
export interface DynamicWeightInfo {
  readonly id: string;
  /** `blackout`: measured for less than blackoutMs (or never); its factor is the mean of the others. */
  readonly phase: 'unmeasured' | 'blackout' | 'measured';
  readonly latencyEwmaMs: number | undefined;
  readonly failureRatio: number;
  readonly requestsInWindow: number;
  /** Multiplier on the base weight, in [minWeightPercent / 100, 1]. */
  readonly factor: number;
}

interface Stats {
  readonly window: RollingCounts;
  /** First sample since (re)appearing; blackout runs from here. */
  measuredSince: number;
  lastSampleAt: number;
  /** NaN until the first fold. */
  ewma: number;
  lastFoldAt: number;
  pendingSum: number;
  pendingCount: number;
}

/**
 * Weights from observed behaviour (seed 002, done right). The proxy calls
 * `record()` after every attempt (cheap: counters only) and `recompute()` on
 * a timer; `weightOf()` is then a map lookup on the hot path.
 *
 * factor = clamp(latencyFactor x successFactor, floor, 1), where
 * - latencyFactor = (best + slack) / (own + slack) over latency EWMAs of the
 *   backends out of blackout (the fastest gets 1);
 * - successFactor = 1 - failure ratio over the window, once it holds at
 *   least minRequests;
 * - floor = minWeightPercent / 100: a slow backend keeps a trickle of
 *   traffic, so its measurements stay fresh and it can recover (the
 *   starvation in traefik#12306 came from a score with no floor).
 * Backends in blackout, never measured, or whose samples went stale get the
 * mean factor of the measured ones (Envoy gives such hosts the mean weight).
 * The latency EWMA folds the mean of each recompute interval with
 * alpha = 1 - 2^(-dt / halfLife), so it does not depend on request rate.
 */
export class WeightFactors {
  readonly options: WeightFactorsOptions;
  readonly #stats = new Map<string, Stats>();
  #factors = new Map<string, number>();
  #defaultFactor = 1;
  #version = 0;

  constructor(options: Partial<WeightFactorsOptions> = {}) {
    const o = { ...WEIGHT_FACTORS_DEFAULTS, ...options };
    positive('latencyHalfLifeMs', o.latencyHalfLifeMs);
    nonNegative('latencySlackMs', o.latencySlackMs);
    positive('failureWindowMs', o.failureWindowMs);
    nonNegative('minRequests', o.minRequests);
    nonNegative('blackoutMs', o.blackoutMs);
    positive('staleAfterMs', o.staleAfterMs);
    if (!(o.minWeightPercent > 0 && o.minWeightPercent <= 100)) {
      throw new RangeError(`invalid minWeightPercent ${o.minWeightPercent}; expected a number in (0, 100]`);
    }
    this.options = Object.freeze(o);
  }

  /** Increments on every recompute(). */
  get version(): number {
    return this.#version;
  }

  /** One finished attempt. Latency counts only for successes (a fast refusal is not a fast backend). */
  record(id: string, latencyMs: number, ok: boolean, now: number): void {
    let s = this.#stats.get(id);
    if (s === undefined) {
      s = {
        window: new RollingCounts(this.options.failureWindowMs, 10),
        measuredSince: now,
        lastSampleAt: now,
        ewma: Number.NaN,
        lastFoldAt: now,
        pendingSum: 0,
        pendingCount: 0,
      };
      this.#stats.set(id, s);
    }
    s.lastSampleAt = now;
    s.window.add(ok, now);
    if (ok && latencyMs >= 0 && latencyMs < Number.POSITIVE_INFINITY) {
      s.pendingSum += latencyMs;
      s.pendingCount++;
    }
  }

  /** Recomputes every candidate's factor. Call on a timer (about once a second). */
  recompute(candidates: readonly { readonly id: string }[], now: number): void {
    const o = this.options;
    const floor = o.minWeightPercent / 100;
    for (const [id, s] of this.#stats) {
      if (now - s.lastSampleAt > o.staleAfterMs) this.#stats.delete(id);
      else fold(s, now, o.latencyHalfLifeMs);
    }
    let best = Number.POSITIVE_INFINITY;
    for (const c of candidates) {
      const s = this.#stats.get(c.id);
      if (s !== undefined && this.#isMeasured(s, now) && s.ewma < best) best = s.ewma; // NaN never wins
    }
    const factors = new Map<string, number>();
    let sum = 0;
    let measured = 0;
    for (const c of candidates) {
      const s = this.#stats.get(c.id);
      if (s === undefined || !this.#isMeasured(s, now)) continue;
      // No successful sample yet: latency unknown, judged on failures alone.
      const latency = Number.isNaN(s.ewma) ? 1 : (best + o.latencySlackMs) / (s.ewma + o.latencySlackMs);
      const total = s.window.total(now);
      const success = total >= o.minRequests && total > 0 ? 1 - s.window.failures(now) / total : 1;
      const f = clamp(latency * success, floor, 1);
      factors.set(c.id, f);
      sum += f;
      measured++;
    }
    const fallback = measured === 0 ? 1 : clamp(sum / measured, floor, 1);
    for (const c of candidates) if (!factors.has(c.id)) factors.set(c.id, fallback);
    this.#factors = factors;
    this.#defaultFactor = fallback;
    this.#version++;
  }

  /** Multiplier for a backend's base weight; backends not seen at the last recompute get the mean. */
  factorOf(id: string): number {
    return this.#factors.get(id) ?? this.#defaultFactor;
  }

  /** Effective weight: base x factor. The hot path: one map lookup. */
  weightOf(id: string, baseWeight: number): number {
    return baseWeight * (this.#factors.get(id) ?? this.#defaultFactor);
  }

  /** Drops a backend's measurements (removed from the registry). */
  forget(id: string): void {
    this.#stats.delete(id);
    this.#factors.delete(id);
  }

  snapshot(ids: readonly string[], now: number): DynamicWeightInfo[] {
    return ids.map((id) => {
      const s = this.#stats.get(id);
      return {
        id,
        phase: s === undefined ? 'unmeasured' : this.#isMeasured(s, now) ? 'measured' : 'blackout',
        latencyEwmaMs: s === undefined || Number.isNaN(s.ewma) ? undefined : s.ewma,
        failureRatio: s === undefined ? 0 : s.window.failureRatio(now),
        requestsInWindow: s === undefined ? 0 : s.window.total(now),
        factor: this.factorOf(id),
      };
    });
  }

  #isMeasured(s: Stats, now: number): boolean {
    return now - s.measuredSince >= this.options.blackoutMs;
  }
}

/** Folds the interval's mean latency into the EWMA. */
function fold(s: Stats, now: number, halfLifeMs: number): void {
  if (s.pendingCount === 0) return;
  const mean = s.pendingSum / s.pendingCount;
  if (Number.isNaN(s.ewma)) s.ewma = mean;
  else {
    const dt = Math.max(0, now - s.lastFoldAt);
    const alpha = 1 - 2 ** (-dt / halfLifeMs);
    s.ewma += alpha * (mean - s.ewma);
  }
  s.lastFoldAt = now;
  s.pendingSum = 0;
  s.pendingCount = 0;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo || Number.isNaN(x) ? lo : x > hi ? hi : x;
}

function positive(name: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`invalid ${name} ${v}; expected a positive number`);
}

function nonNegative(name: string, v: number): void {
  if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`invalid ${name} ${v}; expected a number >= 0`);
}
