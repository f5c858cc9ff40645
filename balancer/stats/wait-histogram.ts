import type { Sample } from '../../common/view-metric.js';

/** Bucket bounds of every wait histogram in /metrics, in seconds (the last bucket, +Inf, is implied). */
export const WAIT_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const BOUNDS_MS = WAIT_BUCKETS_SECONDS.map((s) => s * 1000);

/**
 * A Prometheus histogram of waits kept in plain fields: recording is a short
 * scan and two additions, nothing is allocated until a scrape reads it.
 * Used for what a request waits for (an upstream connection, a place in the
 * admission queue) and for the event loop's delay.
 */
/** A histogram as plain data (worker to primary). */
export interface HistogramData {
  readonly counts: readonly number[];
  readonly sumSeconds: number;
}

export class WaitHistogram {
  /** Per bucket (not cumulative); the last is +Inf. */
  readonly counts = new Float64Array(WAIT_BUCKETS_SECONDS.length + 1);
  sumSeconds = 0;
  count = 0;

  record(ms: number): void {
    let i = 0;
    while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
    this.sumSeconds += ms / 1000;
    this.count++;
  }

  /** Adds counts per bucket made elsewhere (same bounds) and their sum. */
  add(perBucket: ArrayLike<number>, sumSeconds: number): void {
    let n = 0;
    for (let i = 0; i < this.counts.length; i++) {
      this.counts[i]! += perBucket[i] ?? 0;
      n += perBucket[i] ?? 0;
    }
    this.count += n;
    this.sumSeconds += sumSeconds;
  }

  data(): HistogramData {
    return { counts: Array.from(this.counts), sumSeconds: this.sumSeconds };
  }

  /** Back to empty (a merged view, before the parts are added again). */
  clear(): void {
    this.counts.fill(0);
    this.sumSeconds = 0;
    this.count = 0;
  }

  /** The histogram's samples under `name` (…_bucket, …_sum, …_count). */
  samples(name: string, labels: Record<string, string> = {}): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.counts.length; i++) {
      cumulative += this.counts[i]!;
      out.push({
        metricName: `${name}_bucket`,
        labels: { ...labels, le: i < WAIT_BUCKETS_SECONDS.length ? String(WAIT_BUCKETS_SECONDS[i]) : '+Inf' },
        value: cumulative,
      });
    }
    out.push({ metricName: `${name}_sum`, labels, value: this.sumSeconds });
    out.push({ metricName: `${name}_count`, labels, value: this.count });
    return out;
  }

  /** The q-quantile (0..1) in milliseconds, as the upper bound of its bucket; 0 when empty (dashboard, bench). */
  quantileMs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BOUNDS_MS.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return BOUNDS_MS[i]!;
    }
    return Infinity;
  }
}
