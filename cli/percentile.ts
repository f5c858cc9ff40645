/**
 * The nearest-rank percentile `p` (0..100) of numbers sorted ascending; null
 * for none. The small epsilon keeps e.g. 99.9 % of 1,000 at rank 999 despite
 * binary fractions (99.9 / 100 * 1000 is 999.0000000000001).
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p * sorted.length) / 100 - 1e-9) - 1))]!;
}
