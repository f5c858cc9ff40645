import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { ChildSet } from './children.js';
import { freePort, sleep, waitServing } from './net.js';
import { fdCount, processTree, rssBytes } from './proc-stats.js';
import { benchCli, timestamp } from './runtime.js';
import { renderSoakChart } from './soak-chart-svg.js';
import { SoakLoad } from './soak-driver.js';
import { loadSoakConfig, soakHelp, type SoakConfig } from './soak-options.js';
import { judgeSoak, type SoakSample, type SoakVerdict } from './soak-verdict.js';
import { socketsTo } from './tcp-sockets.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

export interface SoakResult {
  readonly tool: 'switchyard-soak';
  readonly version: 1;
  readonly startedAt: string;
  readonly command: string;
  readonly settings: SoakConfig;
  readonly machine: { readonly cpus: number; readonly node: string; readonly loadAverageAtStart: readonly number[] };
  readonly load: { readonly sent: number; readonly ok: number; readonly non2xx: number; readonly aborted: number; readonly errors: number; readonly lastError: string | null; readonly durationMs: number; readonly rps: number };
  readonly verdict: SoakVerdict;
  readonly samples: SoakSample[];
}

export async function runSoak(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config: cfg, help } = loadSoakConfig({ argv, env });
  if (help) {
    process.stdout.write(soakHelp());
    return 0;
  }
  const children = new ChildSet();
  let stop: (() => void) | undefined;
  const onSignal = (): void => {
    log('interrupted: stopping the load');
    stop?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await soak(cfg, children, argv, (fn) => (stop = fn));
  } finally {
    await children.stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function soak(cfg: SoakConfig, children: ChildSet, argv: readonly string[], onStop: (fn: () => void) => void): Promise<number> {
  const startedAt = new Date();
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  const { cliArgs } = benchCli();
  const backendPorts = [await freePort(), await freePort()];
  backendPorts.forEach((port, i) =>
    children.spawn(`backend ${i + 1}`, process.execPath, [...cliArgs, 'backend', '--port', String(port), '--host', '127.0.0.1', '--id', `soak-${i + 1}`, '--log-level', 'warn']),
  );
  for (const p of backendPorts) await waitServing(`http://127.0.0.1:${p}/health`, 30_000);
  const port = await freePort();
  const adminPort = await freePort();
  const lb = children.spawn('balancer', process.execPath, [
    ...cliArgs,
    'balancer',
    '--host', '127.0.0.1',
    '--port', String(port),
    '--admin-port', String(adminPort),
    '--engine', cfg.engine,
    '--backends', backendPorts.map((p, i) => `soak-${i + 1}=http://127.0.0.1:${p}`).join(','),
    '--log-level', 'warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await children.waitReady(lb, `http://127.0.0.1:${adminPort}`, backendPorts.length, 30_000);
  await waitServing(url, 30_000, (r) => r.status === 200 && typeof r.headers['x-backend'] === 'string').catch((err: Error) => {
    throw new Error(`${err.message}; balancer said: ${lb.tail.slice(-5).join(' | ') || 'nothing'}`);
  });
  log(`balancer pid ${lb.pid} on ${url}, backends on ${backendPorts.join(', ')}`);

  const ports = new Set(backendPorts);
  const samples: SoakSample[] = [];
  let loadStart = Date.now();
  const sample = (phase: SoakSample['phase'], requests: number): SoakSample => {
    const pids = processTree(lb.pid);
    const s: SoakSample = {
      tMs: Date.now() - loadStart,
      phase,
      requests,
      rssBytes: rssBytes(pids),
      fds: pids.reduce((n, pid) => n + safeFdCount(pid), 0),
      upstreamSockets: socketsTo(pids, ports),
    };
    samples.push(s);
    return s;
  };

  // baseline: the balancer idle, its health checks running
  loadStart = Date.now() + 2000;
  for (let i = 0; i < 4; i++) {
    sample('baseline', 0);
    await sleep(500);
  }

  const driver = new SoakLoad({ url, connections: cfg.connections, requests: cfg.requests, maxDurationMs: cfg.maxDuration, abortShare: cfg.abortShare, slowPathMs: cfg.slowPath, abortAfterMs: cfg.abortAfter });
  onStop(() => driver.stop());
  loadStart = Date.now();
  log(`soak: up to ${cfg.requests.toLocaleString('en-US')} requests or ${cfg.maxDuration / 1000} s, ${cfg.connections} connections, ${cfg.abortShare * 100} % aborted mid-flight`);
  let lastLog = 0;
  const timer = setInterval(() => {
    const s = sample('load', driver.done);
    if (s.tMs - lastLog >= 10_000) {
      lastLog = s.tMs;
      log(`  ${Math.round(s.tMs / 1000)} s: ${driver.done.toLocaleString('en-US')} requests, RSS ${(s.rssBytes / 1024 / 1024).toFixed(1)} MiB, ${s.fds} fds, ${s.upstreamSockets} upstream sockets`);
    }
  }, cfg.sampleInterval);
  await driver.run();
  clearInterval(timer);
  const loadMs = Date.now() - loadStart;
  sample('load', driver.done);

  // settle: wait for idle keep-alive connections to close
  const baseFds = Math.min(...samples.filter((s) => s.phase === 'baseline').map((s) => s.fds));
  const baseUp = Math.min(...samples.filter((s) => s.phase === 'baseline').map((s) => s.upstreamSockets));
  const settleEnd = Date.now() + cfg.settle;
  for (;;) {
    const s = sample('settle', driver.done);
    if ((s.fds <= baseFds && s.upstreamSockets <= baseUp) || Date.now() >= settleEnd) break;
    await sleep(500);
  }

  const verdict = judgeSoak(samples, { warmupMs: cfg.warmup, windowMs: cfg.window, maxRssGrowth: cfg.maxRssGrowth });
  const c = driver.counts;
  const result: SoakResult = {
    tool: 'switchyard-soak',
    version: 1,
    startedAt: startedAt.toISOString(),
    command: `switchyard soak ${argv.join(' ')}`.trim(),
    settings: cfg,
    machine: { cpus: cpus().length, node: process.version, loadAverageAtStart: loadAtStart },
    load: { sent: c.sent, ok: c.ok, non2xx: c.non2xx, aborted: c.aborted, errors: c.errors, lastError: c.lastError ?? null, durationMs: loadMs, rps: Math.round(driver.done / (loadMs / 1000)) },
    verdict,
    samples,
  };
  const outDir = resolve(cfg.out);
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, `soak-${timestamp(startedAt)}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${base}.svg`, renderSoakChart(samples, `Switchyard soak (${cfg.engine} engine): RSS, open fds and upstream sockets`));

  const v = verdict;
  process.stdout.write(
    [
      '',
      `Switchyard soak, ${result.startedAt}: ${c.sent.toLocaleString('en-US')} requests in ${(loadMs / 1000).toFixed(1)} s (${result.load.rps.toLocaleString('en-US')} req/s), ${cfg.connections} connections`,
      `  ok ${c.ok.toLocaleString('en-US')}, aborted mid-flight ${c.aborted.toLocaleString('en-US')}, non-2xx ${c.non2xx}, errors ${c.errors}${c.lastError ? ` (last: ${c.lastError})` : ''}`,
      `  RSS after warm-up ${v.rssAfterWarmupMiB} MiB, at the end ${v.rssAtEndMiB} MiB: ${v.rssGrowth >= 0 ? '+' : ''}${(v.rssGrowth * 100).toFixed(1)} % (limit ${cfg.maxRssGrowth * 100} %)`,
      `  open fds ${v.fdsBaseline} before the load, ${v.fdsAfter} after it; upstream sockets ${v.upstreamSocketsBaseline} before, ${v.upstreamSocketsAfter} after`,
      v.pass ? '  PASS' : `  FAIL: ${v.failures.join('; ')}`,
      `Results: ${base}.json`,
      `Chart:   ${base}.svg`,
      '',
    ].join('\n'),
  );
  return v.pass ? 0 : 1;
}

function safeFdCount(pid: number): number {
  try {
    return fdCount(pid);
  } catch {
    return 0;
  }
}
