export interface SlowStartOptions {
  /** Ramp length; 0 turns slow start off. */
  readonly windowMs: number;
  /** Shape of the ramp (Envoy `aggression`): 1 is linear, above 1 ramps faster at first. */
  readonly aggression: number;
  /** Least share of its weight a ramping backend gets (Envoy min_weight_percent). */
  readonly minWeightPercent: number;
}

export const SLOW_START_DEFAULTS: SlowStartOptions = Object.freeze({ windowMs: 0, aggression: 1, minWeightPercent: 10 });

export function validateSlowStart(o: SlowStartOptions): SlowStartOptions {
  if (!(o.windowMs >= 0) || !Number.isFinite(o.windowMs))
    throw new RangeError(`invalid slowStartWindowMs ${o.windowMs}; expected a number of milliseconds >= 0`);
  if (!(o.aggression > 0) || !Number.isFinite(o.aggression)) throw new RangeError(`invalid slowStartAggression ${o.aggression}; expected a positive number`);
  if (!(o.minWeightPercent >= 0 && o.minWeightPercent <= 100)) {
    throw new RangeError(`invalid slowStartMinWeightPercent ${o.minWeightPercent}; expected 0 to 100`);
  }
  return o;
}

/**
 * Envoy slow start: a backend that became healthy (or appeared) `elapsedMs`
 * ago gets weight x max(minWeightPercent / 100, (elapsed / window)^(1 / aggression)),
 * and its full weight once the window has passed.
 */
export function slowStartFactor(elapsedMs: number, o: SlowStartOptions): number {
  if (o.windowMs === 0 || elapsedMs >= o.windowMs) return 1;
  const t = elapsedMs <= 0 ? 0 : elapsedMs / o.windowMs;
  const ramp = o.aggression === 1 ? t : t ** (1 / o.aggression);
  return Math.max(o.minWeightPercent / 100, ramp);
}

/**
 * Slow start as a weight modifier. The proxy keeps each backend's
 * `healthySince` (registered or turned healthy) and, while any backend
 * `isRamping()`, refreshes effective weights on a short timer
 * (weight = base x factor); weight-aware strategies absorb the change.
 */
export class SlowStart {
  readonly options: SlowStartOptions;

  constructor(options: Partial<SlowStartOptions> = {}) {
    this.options = Object.freeze(validateSlowStart({ ...SLOW_START_DEFAULTS, ...options }));
  }

  factor(healthySince: number, now: number): number {
    return slowStartFactor(now - healthySince, this.options);
  }

  weight(baseWeight: number, healthySince: number, now: number): number {
    return baseWeight * this.factor(healthySince, now);
  }

  isRamping(healthySince: number, now: number): boolean {
    return this.options.windowMs > 0 && now - healthySince < this.options.windowMs;
  }
}
