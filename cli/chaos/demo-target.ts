import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { freePort } from '../bench/net.js';
import { DemoStack, type StackBackend } from '../demo-stack.js';
import { failsBackend, scheduleFlap, type Acted, type ChaosTarget, type ServingState } from './chaos-target.js';
import type { FaultPatch, Scenario, Step } from './scenario.js';

export interface DemoTargetOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Every child's output, a file per program and run (with the balancer's access log and the backends' request log on). */
  readonly logDir?: string;
  /** Node arguments that run the switchyard CLI (default: this process's). */
  readonly self?: readonly string[];
}

/**
 * The local demo as a chaos target: a fresh demo per run (backends and a
 * balancer as processes of ours, on free ports); kill = SIGKILL, stop =
 * SIGTERM, pause = SIGSTOP, unpause = SIGCONT, start = the backend again;
 * faults through each backend's control port on loopback.
 */
export class DemoTarget implements ChaosTarget {
  proxyUrl = '';
  adminUrl = '';
  readonly adminAuth: Readonly<Record<string, string>>;
  readonly #scenario: Scenario;
  readonly #o: DemoTargetOptions;
  readonly #logs = new Map<string, WriteStream>();
  /** Backends with a fault on that fails them. */
  readonly #faulted = new Set<string>();
  #stack: DemoStack | undefined;

  constructor(scenario: Scenario, o: DemoTargetOptions) {
    this.#scenario = scenario;
    this.#o = o;
    const token = o.env.SWITCHYARD_ADMIN_TOKEN;
    this.adminAuth = token ? { authorization: `Bearer ${token}` } : {};
  }

  async start(strategy: string): Promise<void> {
    const s = this.#scenario;
    const o = this.#o;
    const [port, adminPort, basePort] = [await freePort(), await freePort(), await freeRow(s.backends * 2)];
    if (o.logDir) mkdirSync(o.logDir, { recursive: true });
    const logged = o.logDir !== undefined;
    this.#stack = new DemoStack(
      {
        backends: s.backends,
        port,
        adminPort,
        basePort,
        controlBasePort: basePort + s.backends,
        strategy,
        logLevel: 'info',
        balancerArgs: [...(logged ? ['--access-log', '--access-log-sample', '1'] : []), ...s.balancerArgs],
        backendArgs: logged ? ['--log-requests'] : [],
        env: o.env,
        onLine: (name, line) => this.#log(strategy, name, line),
      },
      o.self,
    );
    this.proxyUrl = `http://127.0.0.1:${port}`;
    this.adminUrl = `http://127.0.0.1:${adminPort}`;
    this.#stack.start();
    if (!(await this.#stack.waitReady(20_000)))
      throw new Error(`the balancer did not get ${s.backends} routable backends in 20 s${logged ? ` (see ${o.logDir})` : ''}`);
  }

  async act(step: Step, later: (ms: number, fn: () => Promise<void>) => void): Promise<Acted> {
    await this.#act(step, later);
    return { ids: [step.target] };
  }

  async #act(step: Step, later: (ms: number, fn: () => Promise<void>) => void): Promise<void> {
    const stack = this.#stack!;
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
      case 'fault':
        if (failsBackend(step.fault!)) this.#faulted.add(b.id);
        return setFault(b, step.fault!);
      case 'clear-fault':
        this.#faulted.delete(b.id);
        await fetch(`http://127.0.0.1:${b.controlPort}/fault`, { method: 'DELETE' });
        return;
      case 'flap':
        return scheduleFlap(step, (unhealthy) => setFault(b, { unhealthy }), later);
      default:
        throw new Error(`${step.action} is not an action on the local demo`);
    }
  }

  async serving(): Promise<ServingState[]> {
    return this.#stack!.backends.map((b) => ({ id: b.id, serving: !b.child.exited && !b.paused && !this.#faulted.has(b.id) }));
  }

  async close(): Promise<void> {
    await this.#stack?.close();
    await Promise.all([...this.#logs.values()].map((w) => new Promise((r) => w.end(r))));
    this.#logs.clear();
    this.#faulted.clear();
  }

  #log(strategy: string, name: string, line: string): void {
    const dir = this.#o.logDir;
    if (dir === undefined) return;
    let w = this.#logs.get(name);
    if (!w) this.#logs.set(name, (w = createWriteStream(join(dir, `${strategy}-${name}.log`), { flags: 'a' })));
    w.write(`${line}\n`);
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

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
