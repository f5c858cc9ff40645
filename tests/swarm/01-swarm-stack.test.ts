import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { get, testClient } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const env = process.env;
const STACK = env.SWITCHYARD_SWARM_STACK ?? 'swyswarm';
const PORT = Number(env.SWITCHYARD_SWARM_PORT ?? 19290);
const TLS_PORT = Number(env.SWITCHYARD_SWARM_TLS_PORT ?? 19293);
/** A clean copy of the project (scripts/clean-copy.sh), where `scripts/swarm.sh` runs. */
const DIR = env.SWITCHYARD_SWARM_DIR ?? join(tmpdir(), `switchyard-swarm-${STACK}`);
const URL = `http://127.0.0.1:${PORT}/`;
const SERVICE = `${STACK}_backend`;

const stackEnv = (): NodeJS.ProcessEnv => ({
  ...env,
  STACK,
  SWITCHYARD_PUBLISH_PORT: String(PORT),
  SWITCHYARD_PUBLISH_TLS_PORT: String(TLS_PORT),
  SWITCHYARD_IMAGE: env.SWITCHYARD_SWARM_IMAGE ?? `switchyard:${STACK}`,
  // The autoscaler runs, with short windows; a service scales only once it carries switchyard.autoscale.* labels.
  AUTOSCALE: '1',
  SWITCHYARD_AUTOSCALE_INTERVAL: '2s',
  SWITCHYARD_AUTOSCALE_DOWN_WINDOW: '10s',
});

function run(cmd: string, args: readonly string[], timeoutMs = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: DIR, env: stackEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out.slice(-4000)}`));
    });
  });
}

const docker = (...args: string[]): Promise<string> => run('docker', args, 60_000);

/** Load through the published port for the whole test: bounded in count and time, every outcome kept per phase. */
class Load {
  readonly #client = testClient(16);
  #stop = false;
  #running: Promise<void> | undefined;
  phase = 'start';
  readonly ok = new Map<string, number>();
  readonly failed: string[] = [];
  /** When each backend last answered. */
  readonly lastSeen = new Map<string, number>();

  start(workers: number): void {
    const deadline = Date.now() + 240_000;
    const work = async (): Promise<void> => {
      for (let n = 0; n < 500_000 && !this.#stop && Date.now() < deadline; n++) {
        const phase = this.phase;
        try {
          const r = await get(URL, { dispatcher: this.#client });
          if (r.status === 200) {
            this.ok.set(phase, (this.ok.get(phase) ?? 0) + 1);
            this.lastSeen.set(String(r.headers['x-backend']), Date.now());
          } else this.failed.push(`${phase}: ${r.status} ${r.body.slice(0, 200)}`);
        } catch (err) {
          this.failed.push(`${phase}: ${String(err)}`);
        }
      }
    };
    this.#running = Promise.all(Array.from({ length: workers }, work)).then(() => undefined);
  }

  /** Backends that answered in the last `ms`. */
  recent(ms: number): string[] {
    const since = Date.now() - ms;
    return [...this.lastSeen].filter(([, t]) => t >= since).map(([b]) => b);
  }

  async stop(): Promise<void> {
    if (this.#stop) return;
    this.#stop = true;
    await this.#running;
    await this.#client.close();
  }
}

async function runningTasks(service = SERVICE): Promise<string[]> {
  const out = await docker('service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.Name}}.{{.ID}} {{.CurrentState}}', '--no-trunc');
  return out
    .split('\n')
    .filter((l) => l.includes(' Running'))
    .map((l) => l.split(' ')[0]!);
}

/** The autoscaler's labels on the backend service (test 2). */
const AUTOSCALE_LABELS = ['switchyard.autoscale.min', 'switchyard.autoscale.max', 'switchyard.autoscale.target-rps'];

/** True when the service's last update, if any, has completed. */
async function updated(service: string): Promise<boolean> {
  const state = (await docker('service', 'inspect', service, '--format', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}')).trim();
  return state === '' || state === 'completed';
}

/** Requests a balancer task has answered, read inside its container with the stack's admin token. */
async function requestsServedBy(task: string): Promise<number> {
  const id = task.slice(task.lastIndexOf('.') + 1);
  const container = (await docker('inspect', id, '--format', '{{.Status.ContainerStatus.ContainerID}}')).trim();
  const read =
    "fetch('http://127.0.0.1:9091/metrics',{headers:{authorization:'Bearer '+require('fs').readFileSync('/run/secrets/admin_token','utf8').trim()}})" +
    '.then(r=>r.text()).then(t=>console.log(/^switchyard_requests_total(?:\\{[^}]*\\})? (\\S+)$/m.exec(t)[1]))';
  return Number((await docker('exec', container, 'node', '-e', read)).trim());
}

/** What tests/swarm/overlay-load-client.mjs reports when it ends. */
interface LoadReport {
  readonly ok: number;
  readonly failed: number;
  readonly failures: readonly { readonly atMs: number; readonly error: string }[];
}

/**
 * tests/swarm/overlay-load-client.mjs in a container on the stack's network: undici clients that
 * honour `Connection: close` and the keep-alive hint, reaching the balancers by their service name
 * (DNS round robin, asked again for each new connection). Bounded: 16 connections, 200 s.
 */
class LoadContainer {
  readonly #name: string;
  readonly #url: string;
  #process: ReturnType<typeof spawn> | undefined;
  #stdout = '';
  #exited: Promise<number | null> | undefined;
  /** Responses and failures so far, from its progress lines. */
  done = 0;

  constructor(name: string, url: string) {
    this.#name = name;
    this.#url = url;
  }

  start(): void {
    const image = stackEnv().SWITCHYARD_IMAGE!;
    const args = ['run', '--rm', '--init', '--name', this.#name, '--network', `${STACK}_backends`, '--read-only', '--cap-drop', 'ALL'];
    args.push('-v', `${join(DIR, 'tests/swarm/overlay-load-client.mjs')}:/probe/client.mjs:ro`, '--entrypoint', 'node');
    args.push(image, '/probe/client.mjs', this.#url, '16', '200');
    const p = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => (this.#stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => {
      const counts = [...d.toString().matchAll(/^done (\d+)$/gm)];
      if (counts.length) this.done = Number(counts[counts.length - 1]![1]);
    });
    this.#exited = new Promise((resolve, reject) => {
      p.on('error', reject);
      p.on('exit', (code) => resolve(code));
    });
    this.#process = p;
  }

  /** Ends the run (SIGINT: the tool stops and reports) and returns its report. */
  async stop(): Promise<LoadReport> {
    await docker('kill', '--signal', 'INT', this.#name);
    const code = await this.#exited;
    assert.equal(code, 0, `the load client exited ${code}: ${this.#stdout.slice(-2000)}`);
    return JSON.parse(this.#stdout) as LoadReport;
  }

  async kill(): Promise<void> {
    this.#process?.kill('SIGKILL');
    await docker('rm', '-f', this.#name).catch(() => undefined);
  }
}

async function replicas(): Promise<number> {
  return Number((await docker('service', 'inspect', SERVICE, '--format', '{{.Spec.Mode.Replicated.Replicas}}')).trim());
}

describe('the stack on a single-node Docker Swarm', { timeout: 280_000 }, () => {
  const load = new Load();
  const burst = new Load();
  const client = new LoadContainer(`${STACK}-client`, `http://${STACK}_balancer:9090/`);

  before(async () => {
    await run('bash', ['scripts/swarm.sh', 'up']);
  });

  after(async () => {
    await load.stop();
    await burst.stop();
    await client.kill();
    await run('bash', ['scripts/swarm.sh', 'down']).catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
  });

  it('serves 3 backends, scales to 5 and back to 2, and rolls an update, with no failed request', async () => {
    load.start(6);
    await waitFor('3 backends answering', () => load.recent(3000).length === 3, 30_000, 100);
    process.stdout.write(`# deployed: ${load.recent(3000).sort().join(', ')}\n`);

    load.phase = 'scale to 5';
    const t5 = Date.now();
    await docker('service', 'scale', '-d', `${SERVICE}=5`);
    await waitFor('5 backends answering', () => load.recent(2000).length === 5, 90_000, 100);
    process.stdout.write(`# scale 3→5: the 2 new tasks took traffic ${Date.now() - t5} ms after the command\n`);

    load.phase = 'scale to 2';
    const t2 = Date.now();
    await docker('service', 'scale', '-d', `${SERVICE}=2`);
    await waitFor('2 tasks running', async () => (await runningTasks()).length === 2, 90_000, 250);
    await waitFor('only the 2 remaining backends answering', async () => load.recent(1500).length === 2, 30_000, 100);
    process.stdout.write(`# scale 5→2: 3 tasks out of rotation ${Date.now() - t2} ms after the command\n`);
    // A forced update, then a change of image: one task at a time, the new one first (update_config.order: start-first).
    const rollingUpdate = async (phase: string, args: string[]): Promise<void> => {
      const before = new Set(load.recent(1500));
      load.phase = phase;
      const t = Date.now();
      await docker('service', 'update', '-d', ...args, SERVICE);
      await waitFor('2 new tasks answering', () => load.recent(1500).length === 2 && load.recent(1500).every((b) => !before.has(b)), 120_000, 100);
      await waitFor(
        'the update to complete',
        async () => (await docker('service', 'inspect', SERVICE, '--format', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}')).trim() === 'completed',
        60_000,
        500,
      );
      process.stdout.write(`# ${phase} (start-first): both tasks replaced ${Date.now() - t} ms after the command\n`);
    };
    await rollingUpdate('rolling update', ['--force']);
    const image = stackEnv().SWITCHYARD_IMAGE!;
    await docker('tag', image, `${image}-next`);
    await rollingUpdate('image change', ['--image', `${image}-next`]);

    load.phase = 'end';
    await waitFor('a few more requests', () => (load.ok.get('end') ?? 0) > 50, 10_000, 50);
    await load.stop();
    process.stdout.write(`# requests by phase: ${JSON.stringify(Object.fromEntries(load.ok))}; failed ${load.failed.length}\n`);
    assert.deepEqual(load.failed.slice(0, 10), [], 'no request failed');
    for (const phase of ['scale to 5', 'scale to 2', 'rolling update', 'image change'])
      assert.ok((load.ok.get(phase) ?? 0) > 100, `requests served while: ${phase}`);
  });

  it('scales the backends up under load and back down after the window, by their labels', async () => {
    assert.equal(await replicas(), 2);
    // 2 to 4 replicas, 50 requests per second each: the load below asks for more than 4.
    await docker(
      'service',
      'update',
      '-d',
      '--label-add',
      'switchyard.autoscale.min=2',
      '--label-add',
      'switchyard.autoscale.max=4',
      '--label-add',
      'switchyard.autoscale.target-rps=50',
      SERVICE,
    );
    const t0 = Date.now();
    burst.phase = 'load';
    burst.start(6);
    await waitFor('the autoscaler to scale up to 4', async () => (await replicas()) === 4, 40_000, 250);
    const upMs = Date.now() - t0;
    await waitFor('4 backends answering', () => burst.recent(2000).length === 4, 60_000, 100);
    const servingMs = Date.now() - t0;
    burst.phase = 'idle';
    await burst.stop();
    const t1 = Date.now();
    await waitFor('the autoscaler to scale back down to 2', async () => (await replicas()) === 2, 60_000, 250);
    const downMs = Date.now() - t1;
    process.stdout.write(
      `# autoscale: 2 -> 4 replicas ${upMs} ms after the load began (4 serving at ${servingMs} ms; ${burst.ok.get('load') ?? 0} requests); back to 2 ${downMs} ms after it stopped (down window 10 s, interval 2 s)\n`,
    );
    assert.deepEqual(burst.failed.slice(0, 10), [], 'no request failed while scaling');
    assert.ok(downMs >= 8000, `not before the down window had passed (${downMs} ms)`);
    const logs = await docker('service', 'logs', '--raw', `${STACK}_controller`);
    assert.match(logs, new RegExp(`"msg":"autoscale: ${SERVICE} up from 2 to 4"`));
    assert.match(logs, new RegExp(`"msg":"autoscale: ${SERVICE} down from 4 to 2"`));
    assert.match(logs, /"reason":"[\d.]+ requests\/s per replica against a target of 50: [^"]+"/, 'each decision is logged with its reason');
    // And shown in the balancer's event log (the dashboard's), read inside its container with the stack's token.
    const balancer = (await docker('ps', '-q', '--filter', `name=${STACK}_balancer`)).trim().split('\n')[0]!;
    const read =
      "fetch('http://127.0.0.1:9091/stats',{headers:{authorization:'Bearer '+require('fs').readFileSync('/run/secrets/admin_token','utf8').trim()}})" +
      ".then(r=>r.json()).then(b=>console.log(JSON.stringify(b.events.filter(e=>e.type==='scaled').map(e=>e.detail))))";
    const shown = JSON.parse(await docker('exec', balancer, 'node', '-e', read)) as string[];
    assert.ok(
      shown.some((d) => d.startsWith(`${SERVICE}: 2 → 4 replicas; `)) && shown.some((d) => d.startsWith(`${SERVICE}: 4 → 2 replicas; `)),
      JSON.stringify(shown),
    );
  });

  it('replaces both of two balancer replicas under load, with no failed request', async () => {
    const BALANCER = `${STACK}_balancer`;
    // Only the balancers change here: the backends stay at 2.
    await docker('service', 'update', '-d', ...AUTOSCALE_LABELS.flatMap((l) => ['--label-rm', l]), SERVICE);
    // Two replicas cannot both bind the node's port (mode host), and this kernel has no IPVS for the mesh:
    // clients on the stack's network find the balancer tasks by DNS round robin instead.
    await docker(
      'service',
      'update',
      '-d',
      '--publish-rm',
      `published=${PORT},target=9090,mode=host`,
      '--publish-rm',
      `published=${TLS_PORT},target=9443,mode=host`,
      '--replicas',
      '2',
      BALANCER,
    );
    await waitFor('2 balancers running', async () => (await updated(BALANCER)) && (await runningTasks(BALANCER)).length === 2, 120_000, 500);
    const before = await runningTasks(BALANCER);

    client.start();
    await waitFor('load through the balancers', () => client.done > 500, 30_000, 100);
    const t = Date.now();
    const atUpdate = client.done;
    await docker('service', 'update', '-d', '--force', BALANCER);
    await waitFor(
      'both balancers replaced',
      async () => (await updated(BALANCER)) && (await runningTasks(BALANCER)).every((b) => !before.includes(b)),
      150_000,
      500,
    );
    const tookMs = Date.now() - t;
    const during = client.done - atUpdate;
    const afterUpdate = client.done;
    await waitFor('load through the new balancers', () => client.done > afterUpdate + 500, 30_000, 100);
    const report = await client.stop();
    const served = await Promise.all((await runningTasks(BALANCER)).map((task) => requestsServedBy(task)));
    process.stdout.write(
      `# balancer update (2 replicas, stop-first, clients by DNS on the overlay): both replaced ${tookMs} ms after the command; ` +
        `${report.ok} answered (${during} during the update), ${report.failed} failed; served by the new balancers: ${served.join(', ')}\n`,
    );
    assert.deepEqual(report.failures.slice(0, 10), [], 'no request failed');
    assert.equal(report.failed, 0);
    assert.ok(during > 1000, `requests served during the update (${during})`);
    // Kept-alive connections stay where they are: the balancer replaced last may not have been given any yet.
    assert.ok(served.reduce((a, b) => a + b, 0) >= 500, `the new balancers served the requests after the update (${served.join(', ')})`);
  });
});
