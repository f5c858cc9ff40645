import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../../common/config/options.js';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { renderBenchChart } from './bench-chart-svg.js';
import { acceptanceChecks } from './checks.js';
import { ChildSet } from './children.js';
import { makeBenchCertificate, type BenchCertificate } from './certificate.js';
import { autocannonGenerator, h2loadGenerator, wrkGenerator, type LoadGenerator } from './load-generator.js';
import { tlsSession } from './net.js';
import { benchHelp, loadBenchConfig, type BenchConfig } from './options.js';
import { clockTicksPerSecond, cpuDelta, processTree, rssBytes, treeTicks } from './proc-stats.js';
import { renderChecks, renderRatioTable, renderRounds, formatMs, formatRps } from './ratio-table.js';
import { medianFigures, type BackendVariant, type BenchResult, type BenchRow, type Figures, type Skipped } from './results.js';
import { benchCli, serverFile, timestamp } from './runtime.js';
import {
  balancerHasWorkers,
  PROXY_LABELS,
  protocolOf,
  startNginxBackends,
  startNodeBackends,
  startProxy,
  Unavailable,
  type BenchProtocol,
  type ProxyId,
  type RunningBackends,
  type RunningProxy,
  type StartContext,
} from './targets.js';
import { cpuModel, ensureTools, programVersion } from './tools.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** One proxy in front of one backend variant, measured at these connection counts by its protocol's load generator. */
interface Target {
  readonly proxy: RunningProxy;
  readonly backend: BackendVariant;
  readonly connections: readonly number[];
  readonly gen: LoadGenerator;
}

/** Measures one run: the proxy tree's CPU ticks and RSS around one load-generator run. */
async function measure(t: Target, connections: number, durationMs: number, round: number): Promise<Figures> {
  const before = t.proxy.pid !== undefined ? treeTicks(t.proxy.pid) : undefined;
  const load = await t.gen.run(t.proxy.url, connections, durationMs);
  let cpuUsPerReq: number | null = null;
  let rssMiB: number | null = null;
  if (t.proxy.pid !== undefined && before) {
    const after = treeTicks(t.proxy.pid);
    const cpuUs = (cpuDelta(before, after) / clockTicksPerSecond()) * 1e6;
    cpuUsPerReq = load.requests > 0 ? Math.round((cpuUs / load.requests) * 10) / 10 : null;
    rssMiB = Math.round((rssBytes(processTree(t.proxy.pid)) / 1024 / 1024) * 10) / 10;
  }
  return { rps: Math.round(load.rps), p50Ms: load.p50Ms, p99Ms: load.p99Ms, p999Ms: load.p999Ms, maxMs: load.maxMs, errors: load.errors, requests: load.requests, rssMiB, cpuUsPerReq, round };
}

/** Rotates a list by `k`, so each round starts with a different proxy and drift hits all alike. */
export function rotate<T>(xs: readonly T[], k: number): T[] {
  if (xs.length === 0) return [];
  const s = k % xs.length;
  return [...xs.slice(s), ...xs.slice(0, s)];
}

export async function runBench(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config: cfg, help } = loadBenchConfig({ argv, env });
  if (help) {
    process.stdout.write(benchHelp());
    return 0;
  }
  const startedAt = new Date();
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  const children = new ChildSet();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    log('interrupted: finishing the current run, then stopping everything');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await bench(cfg, children, dir, startedAt, loadAtStart, argv, () => interrupted);
  } finally {
    await children.stopAll();
    rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function bench(cfg: BenchConfig, children: ChildSet, dir: string, startedAt: Date, loadAtStart: number[], argv: readonly string[], interrupted: () => boolean): Promise<number> {
  const notes: string[] = [];
  const skipped: Skipped[] = [];
  const tools = ensureTools(cfg.install, log);
  for (const p of tools.problems) {
    notes.push(p);
    log(`note: ${p}`);
  }

  const cli = benchCli();
  let gen: LoadGenerator & { readonly name: 'wrk' | 'autocannon' };
  if (cfg.loadGenerator !== 'autocannon' && tools.paths.wrk) {
    gen = wrkGenerator(tools.paths.wrk, join(dir, 'report.lua'));
  } else {
    if (cfg.loadGenerator === 'wrk') notes.push('wrk was asked for but is not installed; using autocannon');
    gen = autocannonGenerator(cli.cliArgs);
  }
  // HTTPS rows: wrk speaks TLS (autocannon is not set up for it here); HTTP/2 rows: h2load.
  const sessions = new Map<string, string>();
  const gens: Readonly<Record<BenchProtocol, LoadGenerator | string>> = {
    http: gen,
    https: gen.name === 'wrk' ? gen : 'not available: the HTTPS rows need wrk',
    h2: tools.paths.h2load
      ? h2loadGenerator(tools.paths.h2load, join(dir, 'h2load.log'), cfg.h2Streams, (u, s) => sessions.set(u, s))
      : 'not available: the HTTP/2 rows need h2load (apt-get install nghttp2-client)',
  };
  const tlsProxies = cfg.tlsProxies.filter((id) => !cfg.proxies.includes(id));
  const wanted = [...cfg.proxies, ...cfg.variantProxies, ...tlsProxies];
  let certificate: BenchCertificate | string = 'no HTTPS proxy asked for';
  if (wanted.some((id) => protocolOf(id) !== 'http')) {
    try {
      if (!tools.paths.openssl) throw new Error('openssl is not installed');
      certificate = makeBenchCertificate(tools.paths.openssl, dir);
      notes.push(`HTTPS rows: every proxy serves the same ${certificate.description}`);
    } catch (err) {
      certificate = (err as Error).message;
    }
  }
  const workersSupported = cfg.proxies.includes('switchyard-w2') ? balancerHasWorkers(cli.cliArgs) : false;
  let baselineCli: string[] | undefined;
  if (cfg.baseline !== undefined) {
    const entry = resolve(cfg.baseline, 'dist/cli/switchyard.js');
    if (!existsSync(entry)) throw new ConfigError(`invalid value for --baseline: ${entry} does not exist (build that checkout with npm ci && npm run build)`);
    baselineCli = [entry];
  }
  const ctx: StartContext = {
    children,
    dir,
    tools: tools.paths,
    cli: cli.cliArgs,
    baselineCli,
    nodeArgs: cli.nodeArgs,
    serverFile,
    maxConnections: Math.max(...cfg.connections),
    workersSupported,
    readyTimeoutMs: 30_000,
    certificate,
  };

  // backends: nginx is the fast one; our own Node backend is the second variant
  const variants: { backends: RunningBackends; proxies: readonly ProxyId[]; connections: readonly number[] }[] = [];
  let primary: RunningBackends | undefined;
  try {
    primary = await startNginxBackends(ctx);
  } catch (err) {
    const reason = `nginx backends: ${(err as Error).message}; using our own Node backends instead`;
    notes.push(reason);
    log(`note: ${reason}`);
  }
  let node: RunningBackends | undefined;
  if (cfg.variantProxies.length || !primary) {
    try {
      node = await startNodeBackends(ctx);
    } catch (err) {
      if (!primary) throw err;
      notes.push(`our own Node backends did not start (${(err as Error).message}); the second backend variant was not run`);
    }
  }
  if (primary) variants.push({ backends: primary, proxies: cfg.proxies, connections: cfg.connections });
  else variants.push({ backends: node!, proxies: cfg.proxies, connections: cfg.connections });
  if (primary && node && cfg.variantProxies.length) variants.push({ backends: node, proxies: cfg.variantProxies, connections: [cfg.connections[0]!] });
  // HTTPS and HTTP/2: in front of the same backends, at the first connection count.
  if (tlsProxies.length) variants.push({ backends: variants[0]!.backends, proxies: tlsProxies, connections: [cfg.connections[0]!] });

  log(`starting ${variants.reduce((s, v) => s + v.proxies.length, 0)} proxies ...`);
  const targets: Target[] = [];
  for (const v of variants) {
    const started = await Promise.allSettled(
      v.proxies.map((id) => {
        const g = gens[protocolOf(id)];
        return typeof g === 'string' ? Promise.reject(new Unavailable(g)) : startProxy(id, ctx, v.backends);
      }),
    );
    started.forEach((s, i) => {
      const id = v.proxies[i]!;
      if (s.status === 'fulfilled') targets.push({ proxy: s.value, backend: v.backends.variant, connections: v.connections, gen: gens[protocolOf(id)] as LoadGenerator });
      else {
        const reason = s.reason instanceof Unavailable ? s.reason.message : `could not start: ${(s.reason as Error).message}`;
        skipped.push({ proxy: `${id} (${v.backends.variant} backends)`, reason });
        log(`skipped ${id} (${v.backends.variant} backends): ${reason}`);
      }
    });
  }

  if (cfg.warmup > 0) {
    log(`warming up each proxy for ${cfg.warmup / 1000} s at ${Math.max(...cfg.connections)} connections ...`);
    for (const t of targets) {
      if (interrupted()) break;
      await t.gen.run(t.proxy.url, Math.max(...t.connections), cfg.warmup).catch(() => undefined);
    }
  }
  for (const t of targets.filter((x) => protocolOf(x.proxy.id) === 'https')) {
    const session = await tlsSession(t.proxy.url).catch((err: Error) => `no handshake: ${err.message}`);
    sessions.set(t.proxy.url, `${session}, ALPN http/1.1`);
  }

  const runs = new Map<string, { target: Target; connections: number; rounds: Figures[] }>();
  const total = cfg.rounds * targets.reduce((s, t) => s + t.connections.length, 0);
  let done = 0;
  const t0 = Date.now();
  for (let round = 0; round < cfg.rounds && !interrupted(); round++) {
    for (const c of cfg.connections) {
      for (const t of rotate(targets.filter((x) => x.connections.includes(c)), round)) {
        if (interrupted()) break;
        const key = `${t.proxy.id}|${t.backend}|${c}`;
        try {
          if (cfg.ramp > 0) await t.gen.run(t.proxy.url, c, cfg.ramp);
          const f = await measure(t, c, cfg.duration, round + 1);
          const entry = runs.get(key) ?? { target: t, connections: c, rounds: [] };
          entry.rounds.push(f);
          runs.set(key, entry);
          done++;
          const eta = Math.round((((Date.now() - t0) / done) * (total - done)) / 1000);
          log(
            `[${done}/${total}, ~${eta}s left] round ${round + 1} c${c} ${PROXY_LABELS[t.proxy.id]} (${t.backend}): ${formatRps(f.rps)} req/s, p99 ${formatMs(f.p99Ms)} ms, max ${formatMs(f.maxMs)} ms, ` +
              `${f.cpuUsPerReq === null ? '' : `${f.cpuUsPerReq} µs/req, `}${f.errors} errors`,
          );
        } catch (err) {
          done++;
          log(`run failed: ${t.proxy.id} c${c}: ${(err as Error).message}`);
          notes.push(`round ${round + 1}, ${t.proxy.id} (${t.backend} backends) at ${c} connections failed: ${(err as Error).message}`);
        }
      }
    }
  }
  if (interrupted()) notes.push('interrupted before all rounds were done');

  const rows: BenchRow[] = [];
  for (const v of variants) {
    for (const c of v.connections) {
      for (const id of v.proxies) {
        const e = runs.get(`${id}|${v.backends.variant}|${c}`);
        if (e) rows.push({ proxy: id, label: PROXY_LABELS[id], protocol: protocolOf(id), backend: v.backends.variant, connections: c, rounds: e.rounds, median: medianFigures(e.rounds) });
      }
    }
  }
  for (const t of targets) {
    const session = sessions.get(t.proxy.url);
    if (session !== undefined) notes.push(`${PROXY_LABELS[t.proxy.id]} (${t.backend} backends) negotiated ${session}`);
  }
  const loadAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  notes.push(`load average (1, 5, 15 min) at start ${loadAtStart.join(' ')}, at end ${loadAtEnd.join(' ')} on ${cpus().length} CPUs: other work on the machine shares the cores with the bench`);
  const versions: Record<string, string> = { node: process.version };
  if (tools.paths.nginx) versions.nginx = programVersion(tools.paths.nginx, ['-v']);
  if (tools.paths.haproxy) versions.haproxy = programVersion(tools.paths.haproxy, ['-v']);
  if (tools.paths.wrk) versions.wrk = programVersion(tools.paths.wrk, ['-v']);
  if (tools.paths.h2load) versions.h2load = programVersion(tools.paths.h2load, ['--version']);
  if (tools.paths.openssl) versions.openssl = programVersion(tools.paths.openssl, ['version']);

  const result: BenchResult = {
    tool: 'switchyard-bench',
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `switchyard bench ${argv.join(' ')}`.trim(),
    machine: { cpus: cpus().length, cpuModel: cpuModel(), node: process.version, loadAverageAtStart: loadAtStart, versions },
    settings: { rounds: cfg.rounds, durationMs: cfg.duration, warmupMs: cfg.warmup, rampMs: cfg.ramp, connections: cfg.connections, proxies: cfg.proxies, variantProxies: cfg.variantProxies, smoke: cfg.smoke, strict: cfg.strict, tlsProxies, h2Streams: cfg.h2Streams },
    loadGenerator: gen.name,
    ...(targets.some((t) => t.gen.name === 'h2load') ? { h2LoadGenerator: 'h2load' as const } : {}),
    rows,
    skipped,
    checks: acceptanceChecks(rows, cfg.connections),
    notes,
  };

  const outDir = resolve(cfg.out);
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, `bench-${timestamp(startedAt)}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${base}.svg`, renderBenchChart(result));

  const out: string[] = ['', `Switchyard bench, ${result.startedAt} (${gen.name}, ${cfg.rounds} round(s) of ${cfg.duration / 1000} s)`, ''];
  out.push(renderRatioTable(rows, cfg.rounds));
  out.push(renderRounds(rows));
  out.push(renderChecks(result.checks));
  if (skipped.length) out.push('Not run:', ...skipped.map((s) => `  ${s.proxy}: ${s.reason}`), '');
  if (notes.length) out.push('Notes:', ...notes.map((n) => `  ${n}`), '');
  out.push(`Results: ${base}.json`, `Chart:   ${base}.svg`, '');
  process.stdout.write(out.join('\n'));
  if (!rows.some((r) => r.median.rps > 0)) return 1;
  // --strict: a failed acceptance figure fails the run (a regression gate); n/a does not.
  return cfg.strict && result.checks.some((c) => c.pass === false) ? 3 : 0;
}
