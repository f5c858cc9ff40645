/**
 * Log-binned latency counts: four bins per doubling (about 19 % wide), from
 * 1 µs to about 2 minutes, in one Uint32Array. Recording is one Math.log2 and
 * one increment; quantiles are read by a scan. Kept per backend per second by
 * RollingWindow. (hdr-histogram-js would do, at more cost per record and per
 * rotation; the dashboard needs p50/p99 per backend per second, not more.)
 */
export const BINS_PER_DOUBLING = 4;
export const BIN_COUNT = 28 * BINS_PER_DOUBLING;

export function binOf(micros: number): number {
  if (micros <= 1) return 0;
  const b = Math.floor(Math.log2(micros) * BINS_PER_DOUBLING);
  return b >= BIN_COUNT ? BIN_COUNT - 1 : b;
}

/** Upper edge of a bin, in microseconds. */
export function binUpperMicros(bin: number): number {
  return 2 ** ((bin + 1) / BINS_PER_DOUBLING);
}

/** The q-quantile (0..1) of the counts, in milliseconds; 0 when empty. */
export function quantileMs(counts: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return binUpperMicros(i) / 1000;
  }
  return binUpperMicros(counts.length - 1) / 1000;
}
