import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { LoadReport } from '../load/report.js';
import { percentile } from '../percentile.js';
import { WRK_REPORT_LUA } from './configs.js';

/** What one measured run of a load generator gives. */
export interface LoadSample {
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Requests without a good answer: connection/read/write errors, timeouts, non-2xx/3xx statuses. */
  readonly errors: number;
  readonly errorDetail: Readonly<Record<string, number>>;
}

export interface LoadGenerator {
  readonly name: 'wrk' | 'autocannon' | 'h2load';
  run(url: string, connections: number, durationMs: number): Promise<LoadSample>;
}

interface WrkJson {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

const ms = (us: number): number => Math.round(us) / 1000;

/** Reads the WRK_JSON line our Lua `done` hook prints. */
export function parseWrkOutput(stdout: string): LoadSample {
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk printed no result line: ${stdout.trim().split('\n').slice(-3).join(' | ')}`);
  const j = JSON.parse(line.slice('WRK_JSON '.length)) as WrkJson;
  const durationS = j.durationUs / 1e6;
  const e = j.errors;
  return {
    requests: j.requests,
    durationS,
    rps: durationS > 0 ? j.requests / durationS : 0,
    p50Ms: ms(j.latencyUs.p50),
    p90Ms: ms(j.latencyUs.p90),
    p99Ms: ms(j.latencyUs.p99),
    p999Ms: ms(j.latencyUs.p999),
    maxMs: ms(j.latencyUs.max),
    errors: e.connect + e.read + e.write + e.status + e.timeout,
    errorDetail: { ...e },
  };
}

/** The same figures from a `switchyard load --json` report. */
export function sampleFromLoadReport(r: LoadReport): LoadSample {
  const durationS = r.durationMs / 1000;
  const bad = Object.entries(r.statusCodes).reduce((s, [code, n]) => (Number(code) >= 400 ? s + n : s), 0);
  return {
    requests: r.requests.completed,
    durationS,
    rps: r.requests.perSecond,
    p50Ms: r.latencyMs.p50,
    p90Ms: r.latencyMs.p90,
    p99Ms: r.latencyMs.p99,
    p999Ms: r.latencyMs.p999,
    maxMs: r.latencyMs.max,
    errors: r.errors.total + bad,
    errorDetail: { timeout: r.errors.timeouts, connect: r.errors.connection, status: bad },
  };
}

function runProcess(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${(err || out).trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** wrk, one thread (the client must not take both cores), latency and errors through a Lua hook. */
export function wrkGenerator(wrkPath: string, scriptPath: string): LoadGenerator & { readonly name: 'wrk' } {
  writeFileSync(scriptPath, WRK_REPORT_LUA);
  return {
    name: 'wrk',
    async run(url, connections, durationMs) {
      const seconds = Math.max(1, Math.round(durationMs / 1000));
      const out = await runProcess(wrkPath, ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', scriptPath, url], durationMs + 30_000);
      return parseWrkOutput(out);
    },
  };
}

/** Where wrk is absent: our own `switchyard load --json` (autocannon) in a separate process. */
export function autocannonGenerator(cli: readonly string[]): LoadGenerator & { readonly name: 'autocannon' } {
  return {
    name: 'autocannon',
    async run(url, connections, durationMs) {
      const out = await runProcess(process.execPath, [...cli, 'load', url, '--connections', String(connections), '--duration', `${durationMs}ms`, '--timeout', '5s', '--json', '--no-progress'], durationMs + 30_000);
      return sampleFromLoadReport(JSON.parse(out) as LoadReport);
    },
  };
}

/**
 * Reads h2load's summary and its per-request log (`--log-file`: start time,
 * status, microseconds to the end of the response, tab-separated), which
 * gives the percentiles its text lacks. Errors are h2load's `failed` (every
 * request without a 2xx or 3xx answer, network errors and resets included)
 * and `timeout`.
 */
export function parseH2loadOutput(stdout: string, log: string): LoadSample {
  const finished = /finished in ([\d.]+)(m?s)/.exec(stdout);
  const counts = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(stdout);
  if (!finished || !counts) throw new Error(`h2load printed no summary: ${stdout.trim().split('\n').slice(-3).join(' | ')}`);
  const durationS = Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1);
  const [done, succeeded, failed, errored, timeout] = [3, 4, 5, 6, 7].map((i) => Number(counts[i]));
  const times: number[] = [];
  for (const line of log.split('\n')) {
    const us = Number(line.split('\t')[2]);
    if (line !== '' && Number.isFinite(us)) times.push(us);
  }
  times.sort((a, b) => a - b);
  return {
    requests: succeeded!,
    durationS,
    rps: durationS > 0 ? succeeded! / durationS : 0,
    p50Ms: ms(percentile(times, 50) ?? 0),
    p90Ms: ms(percentile(times, 90) ?? 0),
    p99Ms: ms(percentile(times, 99) ?? 0),
    p999Ms: ms(percentile(times, 99.9) ?? 0),
    maxMs: ms(times.length ? times[times.length - 1]! : 0),
    errors: failed! + timeout!,
    errorDetail: { done: done!, failed: failed!, errored: errored!, timeout: timeout! },
  };
}

/** The TLS protocol, cipher and application protocol h2load reports having negotiated. */
export function h2loadSession(stdout: string): string | undefined {
  const get = (label: string): string | undefined => new RegExp(`^${label}: (.+)$`, 'm').exec(stdout)?.[1]?.trim();
  const proto = get('TLS Protocol');
  return proto === undefined ? undefined : `${proto} ${get('Cipher') ?? ''}, ALPN ${get('Application protocol') ?? 'none'}`.replace(/ {2,}/g, ' ');
}

/**
 * The TLS 1.3 suites in OpenSSL's default client order, which wrk offers:
 * h2load's own order puts AES-128 first, so a server that follows the
 * client's preference (nginx) would get a cheaper cipher in the HTTP/2 rows
 * than in the HTTPS rows, and than the servers that choose themselves.
 */
const TLS13_CLIENT_ORDER = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

/**
 * h2load (nghttp2) for the HTTP/2 rows: one thread like wrk, `connections`
 * connections with `streams` concurrent streams each, for the run's whole
 * seconds. `onSession` hears the negotiated TLS and ALPN of each run.
 */
export function h2loadGenerator(h2loadPath: string, logPath: string, streams: number, onSession: (url: string, session: string) => void = () => undefined): LoadGenerator {
  return {
    name: 'h2load',
    async run(url, connections, durationMs) {
      const seconds = Math.max(1, Math.round(durationMs / 1000));
      rmSync(logPath, { force: true });
      const out = await runProcess(h2loadPath, ['-t1', `-c${connections}`, `-m${streams}`, `-D${seconds}`, `--tls13-ciphers=${TLS13_CLIENT_ORDER}`, `--log-file=${logPath}`, url], durationMs + 30_000);
      const session = h2loadSession(out);
      if (session !== undefined) onSession(url, session);
      if (session !== undefined && !session.endsWith('ALPN h2')) throw new Error(`h2load did not speak HTTP/2 to ${url}: ${session}`);
      const sample = parseH2loadOutput(out, readFileSync(logPath, 'utf8'));
      rmSync(logPath, { force: true });
      return sample;
    },
  };
}
