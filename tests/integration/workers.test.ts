import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { socketInodes } from '../../cli/bench/tcp-sockets.js';
import { readTcpTableSync, TCP_LISTEN } from '../../common/proc-net-tcp.js';
import { get, json, loadLoop, testClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { runSwitchyard, SwitchyardProcess } from '../helpers/processes.js';
import { TestBackend } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

interface Stats {
  instanceId: string;
  workers: number;
  totals: { requests: number };
  backends: { id: string; health: string; routable: boolean; totals: { attempts: number; responses: Record<string, number> } }[];
}

/** Pids among `pids` that hold a listening socket on `port` (Linux /proc). */
function holdingListener(pids: readonly number[], port: number): number[] {
  const listeners = new Set<number>();
  for (const e of readTcpTableSync() ?? []) if (e.state === TCP_LISTEN && e.localPort === port) listeners.add(e.inode);
  return pids.filter((pid) => [...socketInodes(pid)].some((i) => listeners.has(i)));
}

describe('switchyard balancer --workers 2', () => {
  let backends: TestBackend[];
  let lb: SwitchyardProcess;
  let url: string;
  let admin: string;
  const client = testClient(32);

  before(async () => {
    backends = await Promise.all(['w1', 'w2', 'w3'].map((id) => TestBackend.start(id)));
    const [port, adminPort] = [await freePort(), await freePort()];
    url = `http://127.0.0.1:${port}`;
    admin = `http://127.0.0.1:${adminPort}`;
    lb = new SwitchyardProcess([
      'balancer',
      '--workers',
      '2',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--admin-port',
      String(adminPort),
      '--explain',
      '--health-interval',
      '500ms',
      '--health-timeout',
      '400ms',
      '--backends',
      backends.map((b) => `${b.state.id}=${b.url}`).join(','),
    ]);
    await lb.waitReady(admin, 3, 30_000);
  });

  after(async () => {
    await client.close();
    await lb.kill('SIGKILL');
    await Promise.all(backends.map((b) => b.close()));
  });

  it('serves from two worker processes and merges their counters exactly in /stats and /metrics', async (t: TestContext) => {
    const sent = 3000;
    const r = await loadLoop(`${url}/`, sent, 32, { dispatcher: client });
    assert.equal(r.failed, 0);
    const workerPids = new Set(lb.lines.filter((l) => l.msg === 'worker listening').map((l) => l.pid));
    assert.equal(workerPids.size, 2, 'two workers listen');
    const s = json<Stats>(await get(`${admin}/stats`));
    assert.equal(s.workers, 2);
    const responses = s.backends.reduce((n, b) => n + (b.totals.responses['2xx'] ?? 0), 0);
    assert.equal(responses, sent, 'responses summed over workers');
    const metrics = (await get(`${admin}/metrics`)).body;
    const total = [...metrics.matchAll(/^switchyard_backend_responses_total\{[^}]*code_class="2xx"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(total, sent);
    for (const b of s.backends) assert.ok(Math.abs(b.totals.attempts - sent / 3) <= 2, `round robin per worker stays near exact: ${b.id} ${b.totals.attempts}`);
    t.diagnostic(`2 workers: ${sent} requests, per backend ${s.backends.map((b) => b.totals.attempts).join('/')}`);
  });

  it('lets every worker accept from the shared listening socket (--worker-accept shared, the default)', () => {
    const workerPids = [...new Set(lb.lines.filter((l) => l.msg === 'worker listening').map((l) => l.pid as number))];
    assert.equal(workerPids.length, 2);
    assert.deepEqual(holdingListener(workerPids, Number(new URL(url).port)).sort(), [...workerPids].sort(), 'each worker holds the listening socket');
  });

  it('health checks once in the primary and every worker follows: a killed backend gets no traffic', async () => {
    await backends[2]!.close();
    await waitFor(
      'w3 unhealthy in the primary',
      async () => json<Stats>(await get(`${admin}/stats`)).backends.find((b) => b.id === 'w3')!.health === 'unhealthy',
      5000,
      50,
    );
    const r = await loadLoop(`${url}/`, 600, 16, { dispatcher: client });
    assert.equal(r.failed, 0);
    assert.equal(r.byBackend.get('w3'), undefined);
  });

  it('drains and switches strategy in every worker through the admin API', async () => {
    assert.equal((await get(`${admin}/backends/w1/drain`, { method: 'POST', headers: { 'content-type': 'application/json' } })).status, 200);
    await waitFor(
      'w1 drained in every worker',
      async () => {
        const r = await loadLoop(`${url}/`, 60, 8, { dispatcher: client });
        return r.byBackend.get('w1') === undefined;
      },
      5000,
      50,
    );
    const sw = await get(`${admin}/strategy`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'least-request' }),
    });
    assert.equal(sw.status, 200);
    await waitFor(
      'both workers on least-request',
      async () => {
        const seen = new Set<string>();
        // Fresh connections, so both workers answer.
        for (let i = 0; i < 20; i++) seen.add(String((await get(`${url}/`, { headers: { connection: 'close' } })).headers['x-lb-decision']).split(';')[0]!);
        return seen.size === 1 && seen.has('strategy=least-request');
      },
      5000,
      50,
    );
  });

  it('replaces a worker that dies, without failing the traffic on the other', async () => {
    const before = new Set(lb.lines.filter((l) => l.msg === 'worker listening').map((l) => l.pid as number));
    const victim = [...before][0]!;
    process.kill(victim, 'SIGKILL');
    await lb.waitForLog('worker died, starting another', 5000);
    await waitFor('a new worker', () => lb.lines.filter((l) => l.msg === 'worker listening').length === 3, 15_000, 50);
    const fresh = testClient(8);
    const r = await loadLoop(`${url}/`, 300, 8, { dispatcher: fresh });
    await fresh.close();
    assert.equal(r.failed, 0);
  });

  it('stops every worker on SIGTERM and exits 0', async () => {
    lb.proc.kill('SIGTERM');
    const exit = await lb.exited;
    assert.equal(exit.code, 0);
  });
});

describe('switchyard balancer --workers 2 --worker-accept primary', () => {
  it('accepts in the primary and hands connections to the workers, which hold no listening socket', async () => {
    const backend = await TestBackend.start('p1');
    const [port, adminPort] = [await freePort(), await freePort()];
    const lb = new SwitchyardProcess([
      'balancer',
      '--workers',
      '2',
      '--worker-accept',
      'primary',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--admin-port',
      String(adminPort),
      '--backends',
      `p1=${backend.url}`,
    ]);
    const client = testClient(8);
    try {
      await lb.waitReady(`http://127.0.0.1:${adminPort}`, 1, 30_000);
      await waitFor('both workers listening', () => lb.lines.filter((l) => l.msg === 'worker listening').length === 2, 10_000);
      const workerPids = [...new Set(lb.lines.filter((l) => l.msg === 'worker listening').map((l) => l.pid as number))];
      assert.equal(workerPids.length, 2);
      assert.deepEqual(holdingListener(workerPids, port), [], 'workers hold no listening socket');
      assert.deepEqual(holdingListener([lb.proc.pid!], port), [lb.proc.pid!], 'the primary does');
      await waitFor('p1 routable', async () => json<Stats>(await get(`http://127.0.0.1:${adminPort}/stats`)).backends.some((b) => b.routable), 10_000, 100);
      const r = await loadLoop(`http://127.0.0.1:${port}/`, 200, 8, { dispatcher: client });
      assert.equal(r.failed, 0);
    } finally {
      await client.close();
      await lb.kill('SIGKILL');
      await backend.close();
    }
  });

  it('rejects an unknown --worker-accept value at start, naming the flag', async () => {
    const r = await runSwitchyard([
      'balancer',
      '--workers',
      '2',
      '--worker-accept',
      'kernel',
      '--port',
      String(await freePort()),
      '--backends',
      'x=http://127.0.0.1:1',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--worker-accept/);
  });
});
