import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { encodeBackend, redisKeys } from '../../common/registry/redis-schema.js';
import { ChildSet, type Child } from './children.js';
import { freePort, sleep, waitServing } from './net.js';
import { clockTicksPerSecond, cpuTicks, rssBytes } from './proc-stats.js';
import { loadRegistryBenchConfig, registryBenchHelp, type RegistryBenchConfig } from './registry-options.js';
import { benchCli, timestamp } from './runtime.js';
import { findProgram } from './tools.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const MB = 1024 * 1024;

/** The goals for 10,000 backends (docs/performance.md, "Registry scale"). */
export const REGISTRY_GOALS = Object.freeze({ applyMs: 1000, rssGrowthMb: 250, eventLoopDelayMs: 100, metricsMb: 5 });

export interface RegistryBenchResult {
  readonly tool: 'switchyard-bench-registry';
  readonly version: 1;
  readonly startedAt: string;
  readonly command: string;
  readonly settings: RegistryBenchConfig;
  readonly machine: { readonly cpus: number; readonly node: string };
  readonly figures: {
    /** From the registry write (EXEC) to the balancer's log line saying the snapshot is applied. */
    readonly applyMs: number;
    /** The apply itself, as the balancer measured it (UpstreamSet.apply). */
    readonly applyInBalancerMs: number;
    /** From the write until /readyz counts every backend routable (first health check of each). */
    readonly allRoutableMs: number;
    readonly rssBeforeMb: number;
    readonly rssAfterMb: number;
    readonly rssGrowthMb: number;
    /** prom-client's event-loop delay (10 ms resolution) from the write until all are routable. */
    readonly eventLoopDelayP99Ms: number;
    readonly eventLoopDelayMaxMs: number;
    /** The same over --settle of steady state (health checks of every backend, nothing else). */
    readonly steadyEventLoopDelayP99Ms: number;
    readonly steadyEventLoopDelayMaxMs: number;
    /** CPU the balancer used in the steady state, in percent of one core. */
    readonly steadyCpuPercent: number;
    /** The longest a proxy request (one at a time, every 20 ms) took while the backends were applied. */
    readonly probeMaxMs: number;
    readonly probes: number;
    readonly metricsBytes: number;
    readonly metricsMs: number;
  };
  readonly goals: typeof REGISTRY_GOALS;
  readonly failures: readonly string[];
}

export async function runRegistryBench(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadRegistryBenchConfig({ argv, env });
  if (help) {
    process.stdout.write(registryBenchHelp());
    return 0;
  }
  const children = new ChildSet();
  try {
    const result = await benchRegistry(config, children, argv);
    const file = resolve(config.out, `registry-${timestamp(new Date(result.startedAt))}.json`);
    mkdirSync(config.out, { recursive: true });
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(report(result) + `\nresult: ${file}\n`);
    return config.check && result.failures.length ? 1 : 0;
  } finally {
    await children.stopAll();
  }
}

async function benchRegistry(cfg: RegistryBenchConfig, children: ChildSet, argv: readonly string[]): Promise<RegistryBenchResult> {
  const startedAt = new Date().toISOString();
  const redisServer = findProgram('redis-server');
  if (!redisServer) throw new Error('bench-registry needs redis-server on PATH (apt-get install redis-server)');
  const { cliArgs } = benchCli();

  const redisPort = await freePort();
  const redisChild = children.spawn('redis', redisServer, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes']);
  await children.waitForOutput(redisChild, /Ready to accept connections/, 15_000);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;

  const listenerPorts: number[] = [];
  for (let i = 0; i < cfg.listeners; i++) listenerPorts.push(await freePort());
  listenerPorts.forEach((port, i) =>
    children.spawn(`backend ${i + 1}`, process.execPath, [...cliArgs, 'backend', '--port', String(port), '--host', '127.0.0.1', '--control-port', '0', '--id', `listener-${i + 1}`, '--log-level', 'warn']),
  );
  for (const p of listenerPorts) await waitServing(`http://127.0.0.1:${p}/health`, 30_000);

  const [port, adminPort] = [await freePort(), await freePort()];
  const balancer = children.spawn('balancer', process.execPath, [
    ...(cfg.profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(cfg.profile)}`] : []),
    ...cliArgs,
    'balancer',
    '--redis',
    redisUrl,
    '--port',
    String(port),
    '--admin-port',
    String(adminPort),
    '--health-interval',
    String(cfg.healthInterval),
    '--log-level',
    'info',
  ]);
  const applied = watchLog(balancer, 'registry snapshot applied');
  const admin = `http://127.0.0.1:${adminPort}`;
  await waitServing(`${admin}/readyz`, 30_000);
  log(`bench-registry: balancer ready (pid ${balancer.pid}); ${cfg.backends} backends over ${cfg.listeners} listeners, health interval ${cfg.healthInterval} ms`);

  // Baseline: idle, empty registry. The first scrape resets the event-loop histogram.
  await sleep(1000);
  await scrape(admin);
  const rssBefore = rssBytes([balancer.pid]);

  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.connect();
  const probe = startProbe(`http://127.0.0.1:${port}/`);
  const t0 = performance.now();
  const wallT0 = Date.now();
  await writeBackends(redis, cfg.backends, listenerPorts, wallT0);
  redis.disconnect();

  const line = await Promise.race([applied, sleep(cfg.timeout).then(() => undefined)]);
  if (!line) throw new Error(`the balancer did not log 'registry snapshot applied' within ${cfg.timeout} ms: ${balancer.tail.slice(-5).join(' | ')}`);
  const applyMs = Math.max(0, Date.parse(String(line.time)) - wallT0);
  await waitRoutable(admin, cfg.backends, cfg.timeout);
  const allRoutableMs = performance.now() - t0;
  const probed = await probe.stop();
  const during = await scrape(admin);
  const rssAfter = rssBytes([balancer.pid]);

  // Steady state: every backend checked every interval, nothing else.
  const cpu0 = cpuTicks([balancer.pid]);
  const s0 = performance.now();
  await sleep(cfg.settle);
  const steadyCpu = ((cpuTicks([balancer.pid]) - cpu0) / clockTicksPerSecond() / ((performance.now() - s0) / 1000)) * 100;
  const steady = await scrape(admin);
  // What a Prometheus scrape costs now (the histogram was just reset: this one is the figure).
  const m = await scrape(admin);

  const figures = {
    applyMs: Math.round(applyMs),
    applyInBalancerMs: Number(line.ms ?? 0),
    allRoutableMs: Math.round(allRoutableMs),
    rssBeforeMb: round1(rssBefore / MB),
    rssAfterMb: round1(rssAfter / MB),
    rssGrowthMb: round1((rssAfter - rssBefore) / MB),
    eventLoopDelayP99Ms: during.loopP99Ms,
    eventLoopDelayMaxMs: during.loopMaxMs,
    steadyEventLoopDelayP99Ms: steady.loopP99Ms,
    steadyEventLoopDelayMaxMs: steady.loopMaxMs,
    steadyCpuPercent: Math.round(steadyCpu),
    probeMaxMs: Math.round(probed.maxMs),
    probes: probed.count,
    metricsBytes: m.bytes,
    metricsMs: Math.round(m.ms),
  };
  const failures: string[] = [];
  if (figures.applyMs > REGISTRY_GOALS.applyMs) failures.push(`apply took ${figures.applyMs} ms (goal ≤ ${REGISTRY_GOALS.applyMs} ms)`);
  if (figures.rssGrowthMb > REGISTRY_GOALS.rssGrowthMb) failures.push(`RSS grew ${figures.rssGrowthMb} MB (goal ≤ ${REGISTRY_GOALS.rssGrowthMb} MB)`);
  const worstLoop = Math.max(figures.eventLoopDelayMaxMs, figures.steadyEventLoopDelayMaxMs);
  if (worstLoop > REGISTRY_GOALS.eventLoopDelayMs) failures.push(`event-loop delay reached ${worstLoop} ms (goal ≤ ${REGISTRY_GOALS.eventLoopDelayMs} ms)`);
  if (figures.metricsBytes > REGISTRY_GOALS.metricsMb * MB) failures.push(`/metrics is ${round1(figures.metricsBytes / MB)} MB (goal ≤ ${REGISTRY_GOALS.metricsMb} MB)`);
  return {
    tool: 'switchyard-bench-registry',
    version: 1,
    startedAt,
    command: ['switchyard', 'bench-registry', ...argv].join(' '),
    settings: cfg,
    machine: { cpus: cpus().length, node: process.version },
    figures,
    goals: REGISTRY_GOALS,
    failures,
  };
}

/** One transaction, as a controller reconciling a large fleet would write it; one change message. */
async function writeBackends(redis: Redis, n: number, ports: readonly number[], now: number): Promise<void> {
  const k = redisKeys('switchyard:');
  const multi = redis.multi();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `bench-${String(i).padStart(5, '0')}`;
    ids.push(id);
    const spec = { id, url: `http://127.0.0.1:${ports[i % ports.length]}`, weight: 1, state: 'active' as const, labels: {} };
    multi.hset(k.backend(id), ...encodeBackend(spec), 'updated_at', String(now));
  }
  for (let i = 0; i < ids.length; i += 1000) multi.sadd(k.backends, ...ids.slice(i, i + 1000));
  multi.incr(k.version);
  multi.set(`${k.version}:at`, String(now));
  const res = await multi.exec();
  const version = Number(res?.[res.length - 2]?.[1] ?? 0);
  await redis.publish(k.channel, JSON.stringify({ version, op: 'upsert', id: ids[0], at: now }));
}

/** Resolves with the first JSON log line of `child` whose msg is `msg` (the bench keeps only a short tail). */
function watchLog(child: Child, msg: string): Promise<Record<string, unknown>> {
  return new Promise((resolveLine) => {
    const rl = createInterface({ input: child.proc.stdout! });
    rl.on('line', (text) => {
      if (!text.includes(msg)) return;
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line.msg === msg) {
          rl.close();
          resolveLine(line);
        }
      } catch {
        // not JSON
      }
    });
  });
}

async function waitRoutable(admin: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 0;
  while (performance.now() < deadline) {
    try {
      const res = await request(`${admin}/readyz`, { headersTimeout: 5000 });
      const body = (await res.body.json()) as { routableBackends?: number };
      last = body.routableBackends ?? 0;
      if (last >= n) return;
    } catch {
      // retry
    }
    await sleep(50);
  }
  throw new Error(`only ${last} of ${n} backends routable after ${timeoutMs} ms`);
}

/** One request at a time to the proxy while the registry is applied: the longest wait is what a client felt. */
function startProbe(url: string): { stop(): Promise<{ maxMs: number; count: number }> } {
  let running = true;
  let maxMs = 0;
  let count = 0;
  const loop = (async (): Promise<void> => {
    while (running) {
      const t = performance.now();
      try {
        const res = await request(url, { headersTimeout: 30_000, bodyTimeout: 30_000 });
        await res.body.dump();
      } catch {
        // a refused or failed request still measured its wait
      }
      maxMs = Math.max(maxMs, performance.now() - t);
      count++;
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { maxMs, count };
    },
  };
}

async function scrape(admin: string): Promise<{ bytes: number; ms: number; loopP99Ms: number; loopMaxMs: number }> {
  const t = performance.now();
  const res = await request(`${admin}/metrics`, { headersTimeout: 60_000, bodyTimeout: 60_000 });
  const text = await res.body.text();
  const ms = performance.now() - t;
  if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}`);
  const gauge = (name: string): number => {
    const m = new RegExp(`^switchyard_process_${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? round1(Number(m[1]) * 1000) : NaN;
  };
  return { bytes: Buffer.byteLength(text), ms, loopP99Ms: gauge('nodejs_eventloop_lag_p99_seconds'), loopMaxMs: gauge('nodejs_eventloop_lag_max_seconds') };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export function report(r: RegistryBenchResult): string {
  const f = r.figures;
  const g = r.goals;
  const mark = (ok: boolean): string => (ok ? 'ok' : 'MISSED');
  return [
    `Registry scale: ${r.settings.backends} backends over ${r.settings.listeners} listeners, health checks every ${r.settings.healthInterval} ms (${r.machine.cpus} CPUs, Node ${r.machine.node})`,
    `  apply (write to applied)        ${f.applyMs} ms (in the balancer ${f.applyInBalancerMs} ms)   goal ≤ ${g.applyMs} ms   ${mark(f.applyMs <= g.applyMs)}`,
    `  all routable (first checks)     ${f.allRoutableMs} ms`,
    `  RSS                             ${f.rssBeforeMb} -> ${f.rssAfterMb} MB (+${f.rssGrowthMb} MB)   goal ≤ +${g.rssGrowthMb} MB   ${mark(f.rssGrowthMb <= g.rssGrowthMb)}`,
    `  event-loop delay while applying p99 ${f.eventLoopDelayP99Ms} ms, max ${f.eventLoopDelayMaxMs} ms   goal ≤ ${g.eventLoopDelayMs} ms   ${mark(f.eventLoopDelayMaxMs <= g.eventLoopDelayMs)}`,
    `  event-loop delay steady state   p99 ${f.steadyEventLoopDelayP99Ms} ms, max ${f.steadyEventLoopDelayMaxMs} ms, CPU ${f.steadyCpuPercent} % of a core   ${mark(f.steadyEventLoopDelayMaxMs <= g.eventLoopDelayMs)}`,
    `  a proxy request's longest wait  ${f.probeMaxMs} ms (${f.probes} requests)`,
    `  /metrics                        ${round1(f.metricsBytes / MB)} MB in ${f.metricsMs} ms   goal ≤ ${g.metricsMb} MB   ${mark(f.metricsBytes <= g.metricsMb * MB)}`,
    r.failures.length ? `FAILED: ${r.failures.join('; ')}` : 'all goals met',
  ].join('\n');
}

