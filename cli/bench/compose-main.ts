import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../common/config/options.js';
import { composeBenchHelp, loadComposeBenchConfig } from './compose-options.js';
import { autocannonGenerator, wrkGenerator, type LoadGenerator, type LoadSample } from './load-generator.js';
import { clockTicksPerSecond, cpuDelta, treeTicks } from './proc-stats.js';
import { formatMs, formatRps } from './ratio-table.js';
import { median } from './results.js';
import { rotate } from './main.js';
import { benchCli, timestamp } from './runtime.js';
import { findProgram } from './tools.js';

interface Path {
  readonly name: 'published' | 'direct';
  readonly url: string;
}

interface Run extends LoadSample {
  readonly round: number;
  /** The balancer container's CPU µs per request (its process tree, read from /proc on the host). */
  readonly balancerUsPerReq: number | null;
  /** docker-proxy's CPU µs per request, summed over every docker-proxy process (none on the direct path's way). */
  readonly dockerProxyUsPerReq: number | null;
}

function docker(args: readonly string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', timeout: 20_000 }).trim();
}

/** The balancer container of the project: its host pid and its address on the stack network. */
export function findBalancer(project: string, network: string): { pid: number; address: string } {
  const ids = docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=balancer']).split('\n').filter(Boolean);
  if (ids.length === 0) throw new ConfigError(`no running balancer container in Compose project '${project}': start the stack with make up (or give --project)`);
  const info = JSON.parse(docker(['inspect', ids[0]!])) as { State: { Pid: number }; NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }[];
  const nets = info[0]!.NetworkSettings.Networks;
  const name = Object.keys(nets).find((n) => n === network || n === `${project}_${network}` || n.endsWith(`_${network}`)) ?? Object.keys(nets)[0];
  const address = name === undefined ? '' : nets[name]!.IPAddress;
  if (!address) throw new ConfigError(`the balancer container has no address on network '${network}' (has: ${Object.keys(nets).join(', ')})`);
  return { pid: info[0]!.State.Pid, address };
}

/** Every docker-proxy process on the host (Docker's userland proxy, one per published port and address family). */
function dockerProxyPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'docker-proxy') out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function ticksOf(pids: readonly number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const p of pids) for (const [pid, t] of treeTicks(p)) m.set(pid, t);
  return m;
}

const usPerReq = (ticks: number, requests: number): number | null => (requests > 0 ? Math.round(((ticks / clockTicksPerSecond()) * 1e6 * 10) / requests) / 10 : null);

export async function runComposeBench(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config: cfg, help } = loadComposeBenchConfig({ argv, env });
  if (help) {
    process.stdout.write(composeBenchHelp());
    return 0;
  }
  const wrk = findProgram('wrk');
  const balancer = findBalancer(cfg.project, cfg.network);
  const paths: Path[] = [
    { name: 'published', url: cfg.published },
    { name: 'direct', url: `http://${balancer.address}:9090/` },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-compose-bench-'));
  const startedAt = new Date();
  const runs = new Map<Path['name'], Run[]>(paths.map((p) => [p.name, []]));
  try {
    // wrk when installed (as make bench uses), else autocannon through switchyard load.
    const gen: LoadGenerator = wrk ? wrkGenerator(wrk, join(dir, 'report.lua')) : autocannonGenerator(benchCli().cliArgs);
    for (let round = 0; round < cfg.rounds; round++) {
      for (const p of rotate(paths, round)) {
        if (cfg.ramp > 0) await gen.run(p.url, cfg.connections, cfg.ramp);
        const proxies = dockerProxyPids();
        const [b0, d0] = [treeTicks(balancer.pid), ticksOf(proxies)];
        const s = await gen.run(p.url, cfg.connections, cfg.duration);
        const [b1, d1] = [treeTicks(balancer.pid), ticksOf(proxies)];
        const run: Run = { ...s, round: round + 1, balancerUsPerReq: usPerReq(cpuDelta(b0, b1), s.requests), dockerProxyUsPerReq: proxies.length ? usPerReq(cpuDelta(d0, d1), s.requests) : null };
        runs.get(p.name)!.push(run);
        process.stderr.write(`round ${round + 1} ${p.name} (${p.url}): ${formatRps(s.rps)} req/s, p99 ${formatMs(s.p99Ms)} ms, max ${formatMs(s.maxMs)} ms, ${s.errors} errors\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const med = (name: Path['name'], f: (r: Run) => number | null): number | null => {
    const xs = runs.get(name)!.map(f).filter((x): x is number => x !== null);
    return xs.length ? median(xs) : null;
  };
  const fmt = (x: number | null, f: (n: number) => string): string => (x === null ? '-' : f(x));
  const lines = [
    '',
    `Compose stack, ${cfg.connections} connections, medians of ${cfg.rounds} round(s) of ${cfg.duration / 1000} s (${wrk ? 'wrk -t1' : 'autocannon'}); the same balancer container both ways`,
    'path        req/s    p50 ms   p99 ms   max ms   errors   balancer µs/req   docker-proxy µs/req',
  ];
  for (const p of paths) {
    const rs = runs.get(p.name)!;
    lines.push(
      [
        p.name.padEnd(9),
        fmt(med(p.name, (r) => r.rps), formatRps).padStart(7),
        fmt(med(p.name, (r) => r.p50Ms), formatMs).padStart(9),
        fmt(med(p.name, (r) => r.p99Ms), formatMs).padStart(8),
        fmt(med(p.name, (r) => r.maxMs), formatMs).padStart(8),
        String(rs.reduce((a, r) => a + r.errors, 0)).padStart(8),
        fmt(med(p.name, (r) => r.balancerUsPerReq), (x) => x.toFixed(1)).padStart(17),
        fmt(med(p.name, (r) => r.dockerProxyUsPerReq), (x) => x.toFixed(1)).padStart(21),
      ].join(' '),
    );
  }
  const ratio = (f: (r: Run) => number): string => {
    const a = med('published', f);
    const b = med('direct', f);
    return a === null || b === null || b === 0 ? '-' : (a / b).toFixed(2);
  };
  lines.push(`published / direct: req/s ${ratio((r) => r.rps)}×, p99 ${ratio((r) => r.p99Ms)}×, max ${ratio((r) => r.maxMs)}×`);
  lines.push('every round, p99 / max ms: ' + paths.map((p) => `${p.name} ${runs.get(p.name)!.map((r) => `${formatMs(r.p99Ms)}/${formatMs(r.maxMs)}`).join(' ')}`).join('; '));
  const outDir = resolve(cfg.out);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `compose-${timestamp(startedAt)}.json`);
  writeFileSync(file, `${JSON.stringify({ tool: 'switchyard-bench-compose', startedAt: startedAt.toISOString(), loadGenerator: wrk ? 'wrk' : 'autocannon', settings: cfg, paths, runs: Object.fromEntries(runs) }, null, 2)}\n`);
  lines.push(`Results: ${file}`, '');
  process.stdout.write(lines.join('\n'));
  return 0;
}
