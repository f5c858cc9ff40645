/** One sample of the balancer during a soak. */
export interface SoakSample {
  /** Time since the load started, in ms (negative: before the load). */
  readonly tMs: number;
  readonly phase: 'baseline' | 'load' | 'settle';
  readonly requests: number;
  readonly rssBytes: number;
  readonly fds: number;
  readonly upstreamSockets: number;
}

export interface SoakVerdict {
  readonly rssAfterWarmupMiB: number;
  readonly rssAtEndMiB: number;
  /** rssAtEnd / rssAfterWarmup - 1. */
  readonly rssGrowth: number;
  readonly fdsBaseline: number;
  readonly fdsAfter: number;
  readonly upstreamSocketsBaseline: number;
  readonly upstreamSocketsAfter: number;
  readonly pass: boolean;
  readonly failures: string[];
}

/** Median: one GC swing inside a window does not move it (RSS of a Node process swings 20-30 % between collections). */
function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const mib = (b: number): number => Math.round((b / 1024 / 1024) * 10) / 10;

/**
 * Judges a soak: the median RSS over `windowMs` after the warm-up against the
 * median RSS over the last `windowMs` of load (at most `maxRssGrowth` more),
 * and the open fds and upstream sockets after the settle time against
 * their baseline before the load (not more).
 */
export function judgeSoak(samples: readonly SoakSample[], opts: { warmupMs: number; windowMs: number; maxRssGrowth: number }): SoakVerdict {
  const load = samples.filter((s) => s.phase === 'load');
  const baseline = samples.filter((s) => s.phase === 'baseline');
  const settle = samples.filter((s) => s.phase === 'settle');
  const lastLoadT = load.length ? load[load.length - 1]!.tMs : 0;
  // a run shorter than its warm-up is judged from its second half
  const warmEnd = Math.min(opts.warmupMs, lastLoadT / 2);
  const afterWarm = load.filter((s) => s.tMs >= warmEnd && s.tMs < warmEnd + opts.windowMs);
  const atEnd = load.filter((s) => s.tMs > lastLoadT - opts.windowMs);
  const rssWarm = median((afterWarm.length ? afterWarm : load.slice(0, 1)).map((s) => s.rssBytes));
  const rssEnd = median((atEnd.length ? atEnd : load.slice(-1)).map((s) => s.rssBytes));
  const fdsBaseline = baseline.length ? Math.min(...baseline.map((s) => s.fds)) : 0;
  const upBaseline = baseline.length ? Math.min(...baseline.map((s) => s.upstreamSockets)) : 0;
  const last = settle.length ? settle[settle.length - 1]! : load[load.length - 1];
  const fdsAfter = last?.fds ?? 0;
  const upAfter = last?.upstreamSockets ?? 0;
  const rssGrowth = rssWarm > 0 ? rssEnd / rssWarm - 1 : 0;
  const failures: string[] = [];
  if (load.length === 0) failures.push('no samples under load');
  if (rssGrowth > opts.maxRssGrowth) failures.push(`RSS grew ${(rssGrowth * 100).toFixed(1)} % (${mib(rssWarm)} -> ${mib(rssEnd)} MiB), more than ${opts.maxRssGrowth * 100} %`);
  if (fdsAfter > fdsBaseline) failures.push(`open fds did not return to baseline: ${fdsBaseline} before, ${fdsAfter} after`);
  if (upAfter > upBaseline) failures.push(`upstream sockets left behind: ${upBaseline} before, ${upAfter} after`);
  return {
    rssAfterWarmupMiB: mib(rssWarm),
    rssAtEndMiB: mib(rssEnd),
    rssGrowth: Math.round(rssGrowth * 1000) / 1000,
    fdsBaseline,
    fdsAfter,
    upstreamSocketsBaseline: upBaseline,
    upstreamSocketsAfter: upAfter,
    pass: failures.length === 0,
    failures,
  };
}
