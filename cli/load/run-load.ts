import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { LoadConfig } from './options.js';
import { backendFromRawHeaders, LoadRecorder } from './recorder.js';
import type { LoadReport } from './report.js';
import { buildReport } from './summary.js';

export interface RunHooks {
  /** Called every `progressIntervalMs` while the run goes on. */
  readonly onProgress?: (p: { fraction: number; completed: number; errors: number; elapsedMs: number }) => void;
  readonly progressIntervalMs?: number;
  /** Resolves or aborts to stop the run early; the report covers what was done. */
  readonly signal?: AbortSignal;
}

/** What autocannon's client passes with its 'headers' event (http-parser-js info). */
interface ParserInfo {
  readonly headers?: readonly string[];
}

/** Opens and closes one TCP connection, so an unreachable target fails at once with a clear reason. */
export function probeTcp(url: string, timeoutMs = 3000): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => sock.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Runs autocannon against the URL. Latencies, status codes and the X-Backend
 * distribution are recorded here (autocannon's own latency histogram has
 * millisecond resolution, too coarse for loopback).
 */
export async function runLoad(cfg: LoadConfig, hooks: RunHooks = {}): Promise<LoadReport> {
  const rec = new LoadRecorder();
  const backendOf = new WeakMap<object, string | undefined>();
  const headers: Record<string, string> = {};
  for (const [k, v] of cfg.header) headers[k] = v;

  const startedAt = new Date();
  const t0 = performance.now();
  let lastResponseAt = 0;
  let finish!: (r: { err: unknown; result: autocannon.Result }) => void;
  const finished = new Promise<{ err: unknown; result: autocannon.Result }>((resolve) => (finish = resolve));
  const options: autocannon.Options = {
    url: cfg.url,
    method: cfg.method,
    headers,
    body: cfg.body,
    connections: cfg.connections,
    pipelining: 1,
    timeout: cfg.timeout / 1000,
    ...(cfg.requests !== undefined ? { amount: cfg.requests } : { duration: (cfg.duration ?? 0) / 1000 }),
    ...(cfg.rate !== undefined ? { overallRate: cfg.rate } : {}),
    sampleInt: 100,
    setupClient: (client) => {
      client.on('headers', (info: unknown) => backendOf.set(client, backendFromRawHeaders((info as ParserInfo).headers ?? [])));
    },
  };
  const instance = autocannon(options, (err, result) => finish({ err, result }));

  instance.on('response', (client, statusCode, resBytes, responseTime) => {
    lastResponseAt = performance.now() - t0;
    rec.response(statusCode, resBytes, responseTime, backendOf.get(client), lastResponseAt);
  });
  instance.on('reqError', (err: Error) => {
    if (err?.message === 'request timed out') rec.timeout();
    else rec.connectionError();
  });

  const stop = (): void => instance.stop();
  hooks.signal?.addEventListener('abort', stop, { once: true });
  const limitTimer = cfg.requests !== undefined ? setTimeout(stop, cfg.timeLimit) : undefined;
  const progressTimer = hooks.onProgress
    ? setInterval(() => {
        const elapsedMs = performance.now() - t0;
        const fraction = cfg.requests !== undefined ? rec.completed / cfg.requests : elapsedMs / (cfg.duration ?? 1);
        hooks.onProgress!({ fraction, completed: rec.completed, errors: rec.errors, elapsedMs });
      }, hooks.progressIntervalMs ?? 200)
    : undefined;

  try {
    const { err, result } = await finished;
    if (err) throw err instanceof Error ? err : new Error(String(err));
    const elapsed = performance.now() - t0;
    // autocannon notices the end at its next sample; the run ended at the last response
    const durationMs = cfg.requests !== undefined && rec.completed >= cfg.requests ? lastResponseAt : elapsed;
    return buildReport(
      {
        url: cfg.url,
        method: cfg.method,
        connections: cfg.connections,
        rate: cfg.rate,
        limit:
          cfg.requests !== undefined
            ? { kind: 'requests', requests: cfg.requests, timeLimitMs: cfg.timeLimit }
            : { kind: 'duration', durationMs: cfg.duration ?? 0 },
        startedAt,
        durationMs,
        sent: result.requests.sent,
      },
      rec,
    );
  } finally {
    clearTimeout(limitTimer);
    clearInterval(progressTimer);
    hooks.signal?.removeEventListener('abort', stop);
    rec.close();
  }
}
