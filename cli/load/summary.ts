import type { Histogram } from 'hdr-histogram-js';
import { TIMELINE_RESOLUTION_MS, type LoadRecorder } from './recorder.js';
import type { BackendShare, LatencySummary, LoadReport, TimelinePoint } from './report.js';

/** Intervals a timeline may be merged into; the smallest that fits maxPoints wins. */
const NICE_INTERVALS_MS = [100, 200, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000];

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const usToMs = (us: number): number => round3(us / 1000);

/** Latency percentiles in ms, read from an HDR histogram recorded in microseconds. */
export function latencySummary(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { min: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    min: usToMs(h.minNonZeroValue),
    mean: usToMs(h.mean),
    stddev: usToMs(h.stdDeviation),
    p50: usToMs(h.getValueAtPercentile(50)),
    p90: usToMs(h.getValueAtPercentile(90)),
    p99: usToMs(h.getValueAtPercentile(99)),
    p999: usToMs(h.getValueAtPercentile(99.9)),
    max: usToMs(h.maxValue),
  };
}

/** Per-backend counts and shares, sorted by id (natural order, so backend-2 comes before backend-10). */
export function backendShares(counts: ReadonlyMap<string, number>): BackendShare[] {
  let total = 0;
  for (const n of counts.values()) total += n;
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([id, count]) => ({ id, count, share: total === 0 ? 0 : round3(count / total) }));
}

/** The interval a timeline of `durationMs` is shown at so that it has at most `maxPoints` points. */
export function timelineInterval(durationMs: number, maxPoints: number): number {
  for (const iv of NICE_INTERVALS_MS) if (Math.ceil(durationMs / iv) <= maxPoints) return iv;
  return NICE_INTERVALS_MS[NICE_INTERVALS_MS.length - 1]!;
}

/** Merges fine slots (each `resolutionMs` wide) into points `intervalMs` wide; empty intervals are kept as zero points. */
export function mergeTimeline(slots: readonly ReadonlyMap<string, number>[], resolutionMs: number, intervalMs: number): TimelinePoint[] {
  const per = Math.max(1, Math.round(intervalMs / resolutionMs));
  const points: TimelinePoint[] = [];
  for (let i = 0; i < slots.length; i += per) {
    const byBackend: Record<string, number> = {};
    let total = 0;
    for (const slot of slots.slice(i, i + per)) {
      for (const [id, n] of slot) {
        byBackend[id] = (byBackend[id] ?? 0) + n;
        total += n;
      }
    }
    points.push({ startMs: i * resolutionMs, total, byBackend });
  }
  return points;
}

export interface RunFacts {
  readonly url: string;
  readonly method: string;
  readonly connections: number;
  readonly rate: number | undefined;
  readonly limit: LoadReport['limit'];
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly sent: number;
}

/** Builds the report (the --json document and the source of the terminal summary). */
export function buildReport(run: RunFacts, rec: LoadRecorder, maxTimelinePoints = 60): LoadReport {
  const seconds = run.durationMs / 1000;
  const statusCodes: Record<string, number> = {};
  let non2xx = 0;
  for (const [status, n] of [...rec.statusCodes.entries()].sort(([a], [b]) => a - b)) {
    statusCodes[String(status)] = n;
    if (status < 200 || status > 299) non2xx += n;
  }
  const intervalMs = timelineInterval(Math.max(run.durationMs, rec.timeline.length * TIMELINE_RESOLUTION_MS), maxTimelinePoints);
  return {
    tool: 'switchyard-load',
    version: 1,
    url: run.url,
    method: run.method,
    connections: run.connections,
    rate: run.rate ?? null,
    limit: run.limit,
    startedAt: run.startedAt.toISOString(),
    durationMs: Math.round(run.durationMs),
    requests: {
      sent: Math.max(run.sent, rec.completed),
      completed: rec.completed,
      perSecond: seconds > 0 ? Math.round((rec.completed / seconds) * 10) / 10 : 0,
    },
    latencyMs: latencySummary(rec.latencyUs),
    statusCodes,
    errors: { total: rec.errors, timeouts: rec.timeouts, connection: rec.connectionErrors, non2xx },
    bytes: { total: rec.bytes, perSecond: seconds > 0 ? Math.round(rec.bytes / seconds) : 0 },
    backends: backendShares(rec.byBackend),
    timeline: { intervalMs, points: mergeTimeline(rec.timeline, TIMELINE_RESOLUTION_MS, intervalMs) },
  };
}
