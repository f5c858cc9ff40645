import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { LoadReport } from '../load/report.js';
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
  readonly name: 'wrk' | 'autocannon';
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
export function wrkGenerator(wrkPath: string, scriptPath: string): LoadGenerator {
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
export function autocannonGenerator(cli: readonly string[]): LoadGenerator {
  return {
    name: 'autocannon',
    async run(url, connections, durationMs) {
      const out = await runProcess(process.execPath, [...cli, 'load', url, '--connections', String(connections), '--duration', `${durationMs}ms`, '--timeout', '5s', '--json', '--no-progress'], durationMs + 30_000);
      return sampleFromLoadReport(JSON.parse(out) as LoadReport);
    },
  };
}
