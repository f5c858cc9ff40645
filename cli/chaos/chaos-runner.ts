import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../bench/net.js';
import { DemoStack, type StackBackend } from '../demo-stack.js';
import { ChaosLoad, type RequestRecord } from './chaos-load.js';
import { buildRunReport, type RegistryCheck, type RunReport, type SeenEvent, type StepRun } from './chaos-report.js';
import type { FaultPatch, Scenario, Step } from './scenario.js';

export interface ChaosRunOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Every child's output, a file per program and run (with the balancer's access log and the backends' request log on). */
  readonly logDir?: string;
  /** Progress while a run goes on. */
  readonly onProgress?: (p: { strategy: string; elapsedMs: number; sent: number; lost: number; step: string | undefined }) => void;
  /** A step ran (for the terminal). */
  readonly onStep?: (strategy: string, s: StepRun) => void;
  /** Node arguments that run the switchyard CLI (default: this process's). */
  readonly self?: readonly string[];
}

/** One run of a scenario over one strategy, with what it measured. */
export interface ChaosRun {
  readonly report: RunReport;
  readonly records: readonly RequestRecord[];
  readonly steps: readonly StepRun[];
  readonly durationMs: number;
}

const STATS_POLL_MS = 250;

/**
 * Runs `scenario` once over `strategy` on the local demo: starts the
 * backends and a balancer (free ports), waits for /readyz with every backend
 * routable, runs the load and the steps at their offsets, announces each
 * fault to the balancer's event log (POST /events, under the admin API's
 * authentication), follows the balancer's events, then compares the
 * balancer's view with the processes and stops everything.
 */
export async function runScenario(scenario: Scenario, strategy: string, o: ChaosRunOptions): Promise<ChaosRun> {
  const [port, adminPort, basePort] = [await freePort(), await freePort(), await freeRow(scenario.backends * 2)];
  const logs = new Map<string, WriteStream>();
  if (o.logDir) mkdirSync(o.logDir, { recursive: true });
  const logArgs = o.logDir ? { balancer: ['--access-log', '--access-log-sample', '1'], backend: ['--log-requests'] } : { balancer: [], backend: [] };
  const stack = new DemoStack(
    {
      backends: scenario.backends,
      port,
      adminPort,
      basePort,
      controlBasePort: basePort + scenario.backends,
      strategy,
      logLevel: 'info',
      balancerArgs: [...logArgs.balancer, ...scenario.balancerArgs],
      backendArgs: logArgs.backend,
      env: o.env,
      onLine: (name, line) => {
        if (!o.logDir) return;
        let w = logs.get(name);
        if (!w) logs.set(name, (w = createWriteStream(join(o.logDir, `${strategy}-${name}.log`), { flags: 'a' })));
        w.write(`${line}\n`);
      },
    },
    o.self,
  );
  const admin = `http://127.0.0.1:${adminPort}`;
  const token = o.env.SWITCHYARD_ADMIN_TOKEN;
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const faulted = new Set<string>();
  try {
    stack.start();
    if (!(await stack.waitReady(20_000)))
      throw new Error(`the balancer did not get ${scenario.backends} routable backends in 20 s${o.logDir ? ` (see ${o.logDir})` : ''}`);
    const load = new ChaosLoad({
      url: `http://127.0.0.1:${port}`,
      connections: scenario.load.connections,
      rate: scenario.load.rate,
      durationMs: scenario.load.duration,
      post: scenario.load.post,
      timeoutMs: scenario.load.timeout,
      idPrefix: `chaos-${strategy}-${Date.now().toString(36)}`,
    });
    const events = new Map<number, SeenEvent>();
    const ran: StepRun[] = [];
    const wallStart = Date.now();
    const done = load.run();
    const timers: NodeJS.Timeout[] = [];
    const pending: Promise<void>[] = [];
    for (const step of scenario.steps) {
      timers.push(
        setTimeout(() => {
          const run: StepRun = { atMs: load.now(), action: step.action, target: step.target, convergeBoundMs: step.converge };
          ran.push(run);
          o.onStep?.(strategy, run);
          pending.push(act(stack, step, faulted, timers).then(() => announce(admin, auth, step)));
        }, step.at),
      );
    }
    const poll = setInterval(() => void pollEvents(admin, auth, wallStart, events), STATS_POLL_MS);
    const progress = setInterval(() => {
      const r = load.records;
      o.onProgress?.({ strategy, elapsedMs: load.now(), sent: r.length, lost: r.filter((x) => x.doneMs > 0 && !x.ok).length, step: ran.at(-1)?.action });
    }, 1000);
    await done;
    const endMs = load.now();
    for (const t of timers) clearTimeout(t);
    clearInterval(progress);
    await Promise.allSettled(pending);
    await pollEvents(admin, auth, wallStart, events);
    clearInterval(poll);
    await load.close();
    const registry = await compareRegistry(admin, auth, stack, faulted);
    const seen = [...events.values()].sort((a, b) => a.atMs - b.atMs);
    const report = buildRunReport(scenario, strategy, ran, load.records, seen, registry, endMs);
    return { report, records: load.records, steps: ran, durationMs: endMs };
  } finally {
    await stack.close();
    await Promise.all([...logs.values()].map((w) => new Promise((r) => w.end(r))));
  }
}

/** Carries out one step on the demo's processes or the backend's fault API. */
async function act(stack: DemoStack, step: Step, faulted: Set<string>, timers: NodeJS.Timeout[]): Promise<void> {
  const b = stack.backend(step.target)!;
  switch (step.action) {
    case 'kill':
      return stack.signal(b, 'SIGKILL');
    case 'stop':
      return stack.signal(b, 'SIGTERM');
    case 'pause':
      return stack.signal(b, 'SIGSTOP');
    case 'unpause':
      return stack.signal(b, 'SIGCONT');
    case 'start':
      return stack.respawn(b);
    case 'fault': {
      const f = step.fault!;
      // A slow backend still serves; one that fails checks, hangs or errors does not.
      if (f.unhealthy || f.hang || (f.errorRate ?? 0) > 0) faulted.add(b.id);
      return setFault(b, f);
    }
    case 'clear-fault':
      faulted.delete(b.id);
      return clearFault(b);
    case 'flap': {
      // Unhealthy now, healthy after `every`, and so on `times` switches; ends healthy.
      const times = step.times ?? 4;
      for (let k = 0; k < times; k++) {
        const unhealthy = k % 2 === 0;
        timers.push(setTimeout(() => void setFault(b, { unhealthy }).catch(() => undefined), k * step.every!));
      }
      if (times % 2 === 1) timers.push(setTimeout(() => void setFault(b, { unhealthy: false }).catch(() => undefined), times * step.every!));
      return;
    }
  }
}

async function setFault(b: StackBackend, patch: FaultPatch): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${b.controlPort}/fault`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(patch),
  });
  if (!r.ok) throw new Error(`${b.id} /fault answered ${r.status}: ${await r.text()}`);
}

async function clearFault(b: StackBackend): Promise<void> {
  await fetch(`http://127.0.0.1:${b.controlPort}/fault`, { method: 'DELETE' });
}

/** Tells the balancer's event log (and so the dashboard) about the fault, marked injected. */
async function announce(admin: string, auth: Record<string, string>, step: Step): Promise<void> {
  const detail = step.fault ? JSON.stringify(step.fault) : step.every !== undefined ? `every ${step.every} ms, ${step.times ?? 4} times` : undefined;
  await fetch(`${admin}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ action: step.action, target: step.target, ...(detail ? { detail } : {}) }),
  }).catch(() => undefined);
}

async function pollEvents(admin: string, auth: Record<string, string>, wallStart: number, into: Map<number, SeenEvent>): Promise<void> {
  try {
    const r = await fetch(`${admin}/stats`, { headers: auth });
    if (!r.ok) return;
    const s = (await r.json()) as { events?: { seq: number; at: string; type: string; backendId?: string }[] };
    for (const e of s.events ?? []) if (!into.has(e.seq)) into.set(e.seq, { atMs: Date.parse(e.at) - wallStart, type: e.type, backendId: e.backendId });
  } catch {
    // the next poll tries again
  }
}

/** After the run: whether the balancer routes to each backend, against whether it serves. */
async function compareRegistry(admin: string, auth: Record<string, string>, stack: DemoStack, faulted: ReadonlySet<string>): Promise<RegistryCheck[]> {
  const r = await fetch(`${admin}/backends`, { headers: auth });
  const body = (await r.json()) as { backends: { id: string; routable?: boolean }[] };
  return stack.backends.map((b) => ({
    id: b.id,
    routable: body.backends.find((x) => x.id === b.id)?.routable === true,
    serving: !b.child.exited && !b.paused && !faulted.has(b.id),
  }));
}

/** The first of `n` consecutive free ports (checked one by one). */
async function freeRow(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let i = 0; i < n && free; i++) free = await isFree(base + i);
    if (free) return base;
  }
  throw new Error(`no row of ${n} free ports found`);
}

async function isFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
