export const PANIC_DEFAULTS = Object.freeze({ thresholdPercent: 50 });

/**
 * Envoy panic mode: true when fewer than `thresholdPercent` of the backends
 * are healthy (healthy x 100 < threshold x total). 0 turns it off.
 */
export function isPanic(total: number, healthy: number, thresholdPercent: number): boolean {
  if (!(thresholdPercent >= 0 && thresholdPercent <= 100)) {
    throw new RangeError(`invalid panicThreshold ${thresholdPercent}; expected a percentage from 0 to 100`);
  }
  return total > 0 && thresholdPercent > 0 && healthy * 100 < thresholdPercent * total;
}

/**
 * The set to balance over: `healthy` normally; `all` in panic, so the few
 * healthy backends are not overloaded while the rest are (perhaps wrongly)
 * marked down. Returns one of the two arrays as given (no copy), so
 * per-array strategy caches keep working.
 *
 * `all`: every active (not draining) backend whatever its health;
 * `healthy`: those also health-check healthy, not ejected, breaker not open.
 */
export function panicSet<C>(all: readonly C[], healthy: readonly C[], thresholdPercent: number): readonly C[] {
  return isPanic(all.length, healthy.length, thresholdPercent) ? all : healthy;
}
