import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { RemoteHealth } from '../../balancer/cluster/remote-health.js';
import type { HealthStatus } from '../../balancer/health/health-state.js';
import { get } from '../helpers/http.js';
import { startBalancer, type SwitchyardProcess } from '../helpers/processes.js';
import { TestBackend } from '../helpers/stack.js';

/*
 * With --workers N the primary checks health and tells the workers; a state
 * is about one URL of a backend. When the registry gives the backend a new
 * URL, a state about the old one (still in the primary's batch, or kept by
 * the worker from before) must never make the new URL healthy.
 */

const A = 'http://127.0.0.1:1001';
const B = 'http://127.0.0.1:1002';

function remote(): { health: RemoteHealth; seen: [string, HealthStatus][] } {
  const seen: [string, HealthStatus][] = [];
  return {
    health: new RemoteHealth(
      (id, status) => seen.push([id, status]),
      () => undefined,
    ),
    seen,
  };
}

describe("a worker's RemoteHealth", () => {
  it('replays a state only to a watch of the URL it is about', () => {
    const { health, seen } = remote();
    health.watch({ id: 'x', url: A });
    health.receive([['x', 'healthy', A]]);
    assert.deepEqual(seen, [['x', 'healthy']]);
    // The registry moved x to B: the worker drops the old upstream and watches the new one.
    health.unwatch('x');
    health.watch({ id: 'x', url: B });
    assert.deepEqual(seen, [['x', 'healthy']], 'the state of A is not replayed to B');
    health.receive([['x', 'unhealthy', B]]);
    assert.deepEqual(seen, [
      ['x', 'healthy'],
      ['x', 'unhealthy'],
    ]);
  });

  it('drops a state about an old URL that arrives after the watch of the new one', () => {
    const { health, seen } = remote();
    health.watch({ id: 'x', url: B });
    health.receive([['x', 'healthy', A]]);
    assert.deepEqual(seen, []);
  });

  it('keeps a state about the next URL for its watch when the old upstream leaves after it arrived (a snapshot applied in turns)', () => {
    const { health, seen } = remote();
    health.watch({ id: 'x', url: A });
    health.receive([['x', 'healthy', B]]);
    assert.deepEqual(seen, [], 'not for A');
    health.unwatch('x');
    health.watch({ id: 'x', url: B });
    assert.deepEqual(seen, [['x', 'healthy']]);
  });

  it('forgets the state of a backend that is unwatched, and of one the registry no longer holds', () => {
    const { health, seen } = remote();
    for (let i = 0; i < 1000; i++) {
      health.watch({ id: `b${i}`, url: A });
      health.receive([[`b${i}`, 'healthy', A]]);
      health.unwatch(`b${i}`);
    }
    // States that came before a watch that never happened (the worker skipped that snapshot).
    health.receive([
      ['gone', 'healthy', A],
      ['kept', 'healthy', B],
    ]);
    health.retain([{ id: 'kept', url: B }]);
    assert.equal(health.knownCount, 1, 'churn leaves nothing behind');
    health.watch({ id: 'kept', url: B });
    assert.deepEqual(seen.at(-1), ['kept', 'healthy']);
  });
});

describe('switchyard balancer --workers 2: a backend whose URL changes', () => {
  let y: TestBackend;
  let x: TestBackend;
  /** The new URL of x: serves traffic, but its health check never answers (it stays unknown, then unhealthy). */
  let silent: Server;
  let silentHits = 0;
  let lb: SwitchyardProcess;
  let url: string;
  let admin: string;

  before(async () => {
    [x, y] = await Promise.all([TestBackend.start('x'), TestBackend.start('y')]);
    silent = createServer((req, res) => {
      if (req.url === '/health') return; // never answered: the check times out
      silentHits++;
      res.end('new url of x');
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    ({ lb, url, admin } = await startBalancer(
      ['--workers', '2', '--health-interval', '1s', '--health-fast-interval', '200ms', '--health-timeout', '1s', '--backends', `x=${x.url},y=${y.url}`],
      { minRoutable: 2, timeoutMs: 30_000 },
    ));
  });

  after(async () => {
    await lb.kill('SIGKILL');
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    await Promise.all([x.close(), y.close()]);
  });

  it('gets no traffic at its new URL before a check there passed, in any worker', async (t: TestContext) => {
    const to = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const put = await get(`${admin}/backends/x`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: to }) });
    assert.equal(put.status, 200, put.body);
    // The new URL stays unknown for at least one check timeout (1 s): traffic through both workers meanwhile.
    const until = Date.now() + 800;
    const by = new Map<string, number>();
    let sent = 0;
    while (Date.now() < until) {
      // A fresh connection each time, so both workers answer.
      const r = await get(`${url}/`, { headers: { connection: 'close' } });
      sent++;
      const b = r.status === 200 ? String(r.headers['x-backend']) : `status ${r.status}`;
      by.set(b, (by.get(b) ?? 0) + 1);
    }
    t.diagnostic(`${sent} requests after the change of URL: ${[...by].map(([k, v]) => `${k}=${v}`).join(' ')}`);
    assert.equal(silentHits, 0, 'the new URL of x, never checked healthy, got requests');
    assert.deepEqual([...by.keys()], ['y']);
  });
});
