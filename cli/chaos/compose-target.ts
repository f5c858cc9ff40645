import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { failsBackend, scheduleFlap, type Acted, type ChaosTarget, type ServingState } from './chaos-target.js';
import type { Scenario, Step } from './scenario.js';

export interface ComposeTargetOptions {
  readonly env: NodeJS.ProcessEnv;
  /** The project directory `make up` ran in (its .env and .secrets/ hold the credentials). */
  readonly dir: string;
}

/**
 * The running Compose stack (`make up`) as a chaos target: replica N of the
 * backend service is `backend-N` (Compose's container number, as in `make
 * stop N=3`), and every action goes through scripts/stack.sh, the same as
 * the make targets: docker stop, kill, pause, unpause and start of a replica,
 * scale, the backend's fault API through docker exec, and Redis, the
 * controller and the Docker API proxy stopped, started or restarted. The
 * project, ports and admin token are the stack's own (PROJECT or
 * COMPOSE_PROJECT_NAME, SWITCHYARD_PUBLISH_PORT and _ADMIN_PORT, the token
 * in .env or .secrets/admin_token).
 */
export class ComposeTarget implements ChaosTarget {
  readonly proxyUrl: string;
  readonly adminUrl: string;
  readonly adminAuth: Readonly<Record<string, string>>;
  readonly #scenario: Scenario;
  readonly #o: ComposeTargetOptions;
  readonly #project: string;
  readonly #docker: Docker;
  readonly #faulted = new Set<string>();
  /** Backends whose faults were set at any time: cleared at the end. */
  readonly #touched = new Set<string>();
  /** Docker's events for the backend containers while a run goes on: when a fault took effect. */
  readonly #seen: { name: string; action: string; at: number }[] = [];
  #eventStream: NodeJS.ReadableStream | undefined;

  constructor(scenario: Scenario, o: ComposeTargetOptions) {
    this.#scenario = scenario;
    this.#o = o;
    const dotenv = readDotenv(join(o.dir, '.env'));
    this.#project = o.env.PROJECT ?? o.env.COMPOSE_PROJECT_NAME ?? dotenv.COMPOSE_PROJECT_NAME ?? 'switchyard';
    this.proxyUrl = `http://127.0.0.1:${o.env.SWITCHYARD_PUBLISH_PORT ?? '9090'}`;
    this.adminUrl = `http://127.0.0.1:${o.env.SWITCHYARD_PUBLISH_ADMIN_PORT ?? '9091'}`;
    const tokenFile = join(o.dir, '.secrets/admin_token');
    const token = o.env.SWITCHYARD_ADMIN_TOKEN || dotenv.SWITCHYARD_ADMIN_TOKEN || (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '');
    this.adminAuth = token ? { authorization: `Bearer ${token}` } : {};
    this.#docker = new Docker(o.env.SWITCHYARD_DOCKER_SOCKET ? { socketPath: o.env.SWITCHYARD_DOCKER_SOCKET } : undefined);
  }

  /** Scales the backends to the scenario's count, switches the strategy live, and waits until all are routable. */
  async start(strategy: string): Promise<void> {
    const n = this.#scenario.backends;
    await this.#watchEvents();
    await this.#stack('scale', String(n));
    const r = await fetch(`${this.adminUrl}/strategy`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...this.adminAuth },
      body: JSON.stringify({ name: strategy }),
    });
    if (!r.ok) throw new Error(`PUT /strategy ${strategy} answered ${r.status}: ${await r.text()} (is the stack up? make up)`);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const names = (await this.#replicas(false)).map((c) => c.name).sort();
      const routable = await this.#routable();
      if (names.length === n && names.every((x) => routable.includes(x))) return;
      if (Date.now() > deadline)
        throw new Error(`${n} backends were not all routable within 120 s (running: ${names.join(', ')}; routable: ${routable.join(', ')})`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  async act(step: Step, later: (ms: number, fn: () => Promise<void>) => void): Promise<Acted> {
    const t = step.target;
    const given = Date.now() - 50;
    if (t === 'backend') {
      // scale: the replicas it adds or removes are the ones the step is about
      const before = new Set((await this.#replicas(true)).map((c) => c.name));
      await this.#stack('scale', String(step.replicas!));
      const after = new Set((await this.#replicas(true)).map((c) => c.name));
      const added = [...after].filter((x) => !before.has(x));
      const ids = [...added, ...[...before].filter((x) => !after.has(x))].sort();
      return { ids, effectiveAt: await this.#effective(ids, added.length > 0 ? 'start' : 'kill', given) };
    }
    if (!t.startsWith('backend-')) {
      await this.#stack('compose', step.action, t);
      return { ids: [] };
    }
    const n = t.slice('backend-'.length);
    const name = await this.#nameOf(Number(n));
    switch (step.action) {
      case 'kill':
      case 'stop':
      case 'pause':
      case 'unpause':
      case 'start':
        await this.#stack(step.action, n);
        return { ids: [name], effectiveAt: await this.#effective([name], DOCKER_EVENT[step.action], given) };
      case 'fault':
        this.#touched.add(name);
        if (failsBackend(step.fault!)) this.#faulted.add(name);
        await this.#stack('fault', n, JSON.stringify(step.fault));
        return { ids: [name] };
      case 'clear-fault':
        this.#faulted.delete(name);
        await this.#stack('fault', n, 'clear');
        return { ids: [name] };
      case 'flap':
        // close() clears what a flap the end of the load cut short may have left.
        this.#touched.add(name);
        scheduleFlap(step, (unhealthy) => this.#stack('fault', n, JSON.stringify({ unhealthy })), later);
        return { ids: [name] };
      default:
        throw new Error(`${step.action} is not an action on a backend replica`);
    }
  }

  /** Docker's first `action` event since `since` for each of `names`, by name (waits up to a second for them to arrive). */
  async #effective(names: readonly string[], action: string, since: number): Promise<Map<string, number>> {
    const deadline = Date.now() + 1000;
    for (;;) {
      const found = new Map<string, number>();
      for (const x of this.#seen) if (x.at >= since && x.action === action && names.includes(x.name) && !found.has(x.name)) found.set(x.name, x.at);
      if (found.size === names.length || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async #watchEvents(): Promise<void> {
    if (this.#eventStream) return;
    const label = [`com.docker.compose.project=${this.#project}`, 'com.docker.compose.service=backend'];
    const stream = (await this.#docker.getEvents({ filters: { type: ['container'], label } })) as NodeJS.ReadableStream;
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const e = JSON.parse(line) as { Action?: string; timeNano?: number; Actor?: { Attributes?: { name?: string } } };
          const name = e.Actor?.Attributes?.name;
          if (name && e.Action && e.timeNano) this.#seen.push({ name, action: e.Action.split(':')[0]!, at: Math.round(e.timeNano / 1e6) });
        } catch {
          // a partial or foreign line: skipped
        }
      }
    });
    stream.on('error', () => undefined);
    this.#eventStream = stream;
  }

  async serving(): Promise<ServingState[]> {
    return (await this.#replicas(true)).map((c) => ({ id: c.name, serving: c.serving && !this.#faulted.has(c.name) }));
  }

  async close(): Promise<void> {
    // Faults left on would outlive the run: clear them (a no-op for a replica that is gone).
    for (const c of await this.#replicas(false)) if (this.#touched.has(c.name)) await this.#stack('fault', String(c.number), 'clear').catch(() => undefined);
    this.#faulted.clear();
    this.#touched.clear();
    (this.#eventStream as { destroy?: () => void } | undefined)?.destroy?.();
    this.#eventStream = undefined;
    this.#seen.length = 0;
  }

  /** The backend replicas of the project: name, Compose number, and whether they serve (running, not paused, not unhealthy). */
  async #replicas(all: boolean): Promise<{ name: string; number: number; serving: boolean }[]> {
    const list = await this.#docker.listContainers({
      all,
      filters: { label: [`com.docker.compose.project=${this.#project}`, 'com.docker.compose.service=backend'] },
    });
    return list.map((c) => ({
      name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
      number: Number(c.Labels['com.docker.compose.container-number']),
      serving: c.State === 'running' && !/\b(Paused|unhealthy)\b/.test(c.Status),
    }));
  }

  async #nameOf(n: number): Promise<string> {
    const all = (await this.#replicas(true)).filter((x) => x.number === n);
    // Two containers with one number (a leftover of Compose v1 recreating one): the replica's own name, as scripts/stack.sh picks.
    const c = all.find((x) => x.name === `${this.#project}_backend_${n}` || x.name === `${this.#project}-backend-${n}`) ?? all[0];
    if (!c) throw new Error(`no backend replica ${n} in project ${this.#project} (make ps)`);
    return c.name;
  }

  async #routable(): Promise<string[]> {
    try {
      const r = await fetch(`${this.adminUrl}/backends`, { headers: this.adminAuth });
      const body = (await r.json()) as { backends?: { id: string; routable?: boolean }[] };
      return (body.backends ?? []).filter((b) => b.routable).map((b) => b.id);
    } catch {
      return [];
    }
  }

  /** `bash scripts/stack.sh ARGS` in the project directory, with the stack's environment; rejects with its output when it fails. */
  #stack(...args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const p = spawn('bash', ['scripts/stack.sh', ...args], {
        cwd: this.#o.dir,
        env: { ...this.#o.env, PROJECT: this.#project },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`stack.sh ${args.join(' ')} failed (exit ${code}): ${out.trim().slice(-500)}`))));
    });
  }
}

/** Docker's event that marks when a step on a replica took effect (a stop's SIGTERM is its `kill` event). */
const DOCKER_EVENT: Record<'kill' | 'stop' | 'pause' | 'unpause' | 'start', string> = {
  stop: 'kill',
  kill: 'kill',
  pause: 'pause',
  unpause: 'unpause',
  start: 'start',
};

/** KEY=value lines of a .env file (none when it is missing). */
function readDotenv(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
