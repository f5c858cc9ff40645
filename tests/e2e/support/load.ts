import { Pool } from 'undici';

/** Epoch milliseconds with sub-millisecond resolution, comparable with Docker's event times on this host. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface LoadOptions {
  readonly url: string;
  readonly concurrency: number;
  /** The run stops at this duration... */
  readonly durationMs: number;
  /** ...or this many requests, whichever comes first. */
  readonly maxRequests: number;
  /** A request not answered in this time counts as failed. */
  readonly timeoutMs?: number;
}

export interface RequestRecord {
  readonly start: number;
  readonly end: number;
  readonly status: number;
  /** X-Backend of the answer; '' when none. */
  readonly backend: string;
  readonly error?: string;
}

export interface BackendTimes {
  readonly count: number;
  readonly firstEnd: number;
  readonly lastStart: number;
  readonly lastEnd: number;
}

export interface LoadResult {
  readonly records: readonly RequestRecord[];
  readonly ok: number;
  readonly failed: number;
  readonly failures: readonly string[];
  readonly durationMs: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly byBackend: ReadonlyMap<string, BackendTimes>;
}

/**
 * Bounded load: `concurrency` workers each sending GETs back to back over
 * keep-alive connections, until the duration or the request count is
 * reached (or stop() is called). Every request is recorded with its times,
 * status and answering backend. Traffic goes only to the given URL.
 */
export class LoadRun {
  readonly done: Promise<LoadResult>;
  readonly #records: RequestRecord[] = [];
  #stopped = false;

  constructor(opts: LoadOptions) {
    this.done = this.#run(opts);
  }

  /** Requests finished so far. */
  get records(): readonly RequestRecord[] {
    return this.#records;
  }

  stop(): Promise<LoadResult> {
    this.#stopped = true;
    return this.done;
  }

  async #run(opts: LoadOptions): Promise<LoadResult> {
    const u = new URL(opts.url);
    const pool = new Pool(u.origin, { connections: opts.concurrency, pipelining: 1, keepAliveTimeout: 10_000 });
    pool.on('connectionError', () => undefined);
    const t0 = nowMs();
    const deadline = t0 + opts.durationMs;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (!this.#stopped && nowMs() < deadline && sent < opts.maxRequests) {
        sent++;
        const start = nowMs();
        try {
          const res = await pool.request({ path: u.pathname + u.search, method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
          await res.body.dump();
          const b = res.headers['x-backend'];
          this.#records.push({ start, end: nowMs(), status: res.statusCode, backend: Array.isArray(b) ? b[0]! : (b ?? '') });
        } catch (err) {
          const e = err as { code?: string; message?: string };
          this.#records.push({ start, end: nowMs(), status: 0, backend: '', error: e.code ?? e.message ?? String(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    const durationMs = nowMs() - t0;
    await pool.close().catch(() => undefined);
    return summarize(this.#records, durationMs);
  }
}

export function summarize(records: readonly RequestRecord[], durationMs: number): LoadResult {
  let ok = 0;
  const failures: string[] = [];
  const latencies: number[] = [];
  const byBackend = new Map<string, { count: number; firstEnd: number; lastStart: number; lastEnd: number }>();
  for (const r of records) {
    latencies.push(r.end - r.start);
    if (r.status === 200) {
      ok++;
      const b = byBackend.get(r.backend);
      if (!b) byBackend.set(r.backend, { count: 1, firstEnd: r.end, lastStart: r.start, lastEnd: r.end });
      else {
        b.count++;
        b.firstEnd = Math.min(b.firstEnd, r.end);
        b.lastStart = Math.max(b.lastStart, r.start);
        b.lastEnd = Math.max(b.lastEnd, r.end);
      }
    } else if (failures.length < 20) {
      failures.push(`${new Date(r.start).toISOString()} status ${r.status} ${r.error ?? ''} backend '${r.backend}'`);
    }
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]! : 0);
  return {
    records,
    ok,
    failed: records.length - ok,
    failures,
    durationMs,
    rps: records.length / (durationMs / 1000),
    p50: pct(50),
    p99: pct(99),
    max: latencies.length ? latencies[latencies.length - 1]! : 0,
    byBackend,
  };
}

export function describeLoad(r: LoadResult): string {
  const spread = [...r.byBackend.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([id, b]) => `${id}=${b.count}`)
    .join(' ');
  return `${r.records.length} requests in ${(r.durationMs / 1000).toFixed(1)} s (${Math.round(r.rps)}/s), ${r.failed} failed, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(0)} ms; ${spread}`;
}
