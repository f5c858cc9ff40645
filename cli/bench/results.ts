/** The figures of one measured run of one proxy (or their medians over rounds). */
export interface Figures {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  /** The slowest request of the run (median of the runs' maxima in a row's median). */
  readonly maxMs: number;
  readonly errors: number;
  readonly requests: number;
  /** Resident memory of the proxy's processes at the end of the run; null for `direct`. */
  readonly rssMiB: number | null;
  /** The proxy's own CPU time (utime + stime over its processes) per request, in µs; null for `direct`. */
  readonly cpuUsPerReq: number | null;
  /** Which interleaved round (1-based) a measured run belongs to; absent in medians. */
  readonly round?: number;
}

export type BackendVariant = 'nginx' | 'node';

export interface BenchRow {
  readonly proxy: string;
  readonly label: string;
  /** How the client spoke to the proxy: plain HTTP/1.1, HTTP/1.1 over TLS, HTTP/2 over TLS (absent in results older than the HTTPS rows: plain). */
  readonly protocol?: 'http' | 'https' | 'h2';
  /** Which backends were behind the proxy: nginx (the fast backend) or our own Node backend. */
  readonly backend: BackendVariant;
  readonly connections: number;
  readonly rounds: Figures[];
  readonly median: Figures;
}

export interface Skipped {
  readonly proxy: string;
  readonly reason: string;
}

export interface Check {
  readonly name: string;
  /** null when a figure it needs was not measured. */
  readonly pass: boolean | null;
  readonly detail: string;
}

export interface BenchResult {
  readonly tool: 'switchyard-bench';
  readonly version: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly node: string; readonly loadAverageAtStart: readonly number[]; readonly versions: Readonly<Record<string, string>> };
  readonly settings: { readonly rounds: number; readonly durationMs: number; readonly warmupMs: number; readonly rampMs: number; readonly connections: readonly number[]; readonly proxies: readonly string[]; readonly variantProxies: readonly string[]; readonly smoke: boolean; readonly strict: boolean; readonly tlsProxies?: readonly string[]; readonly h2Streams?: number };
  readonly loadGenerator: 'wrk' | 'autocannon';
  /** Who drove the HTTP/2 rows (h2load), when there were any. */
  readonly h2LoadGenerator?: 'h2load';
  readonly rows: BenchRow[];
  readonly skipped: Skipped[];
  readonly checks: Check[];
  readonly notes: string[];
}

/** Median of numbers (mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianOrNull(xs: readonly (number | null)[]): number | null {
  const known = xs.filter((x): x is number => x !== null);
  return known.length ? median(known) : null;
}

/** Each figure's median over the rounds, taken separately. Errors are summed, not medianed: one error in any round counts. */
export function medianFigures(rounds: readonly Figures[]): Figures {
  return {
    rps: median(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    p999Ms: median(rounds.map((r) => r.p999Ms)),
    maxMs: median(rounds.map((r) => r.maxMs)),
    errors: rounds.reduce((s, r) => s + r.errors, 0),
    requests: rounds.reduce((s, r) => s + r.requests, 0),
    rssMiB: medianOrNull(rounds.map((r) => r.rssMiB)),
    cpuUsPerReq: medianOrNull(rounds.map((r) => r.cpuUsPerReq)),
  };
}

/** A row's run of interleaved round `round` (1-based), paired by its round number, not its index: a failed run leaves no gap. */
export function runOfRound(rounds: readonly Figures[], round: number): Figures | undefined {
  return rounds.find((f, i) => (f.round ?? i + 1) === round);
}

/** a / b, or null when either is unknown or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  return a / b;
}

export function findRow(rows: readonly BenchRow[], proxy: string, connections: number, backend: BackendVariant = 'nginx'): BenchRow | undefined {
  return rows.find((r) => r.proxy === proxy && r.connections === connections && r.backend === backend);
}
