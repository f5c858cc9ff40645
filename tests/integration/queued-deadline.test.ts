import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import { get, json } from '../helpers/http.js';
import { startBalancer, type SwitchyardProcess } from '../helpers/processes.js';

/*
 * Every engine with --backend-connections 1: while a long response holds the
 * one connection, a request waits in the pool's queue. When its deadline
 * (--request-timeout) passes there, the client gets its 504, but the backend
 * was never asked: no failure is counted against it, no ejection, no breaker.
 * A request the backend itself leaves unanswered still counts (the control).
 */

interface StatsBackend {
  id: string;
  breaker: string;
  ejected: boolean;
  errorRate: number;
  totals: { attempts: number; failures: number };
}

for (const engine of ['raw', 'undici'] as const)
  describe(`${engine} engine: a request whose deadline passes while queued for a busy connection`, () => {
    let backend: Server;
    /** The responses of /stream still open (ended by the test). */
    const streams: ServerResponse[] = [];
    let lb: SwitchyardProcess;
    let url: string;
    let admin: string;

    before(async () => {
      backend = createServer((req: IncomingMessage, res: ServerResponse) => {
        if (req.url === '/stream') {
          // The head and a first chunk at once: the balancer's deadline is met, the connection stays busy.
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first chunk\n');
          streams.push(res);
          return;
        }
        if (req.url === '/hang') return; // never answered
        res.end('ok');
      });
      await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', () => resolve()));
      ({ lb, url, admin } = await startBalancer(
        [
          '--engine',
          engine,
          '--backend-connections',
          '1',
          '--request-timeout',
          '400ms',
          // One counted failure would eject it and open its breaker.
          '--outlier-consecutive-failures',
          '1',
          '--outlier-max-ejection-percent',
          '100',
          '--breaker-min-requests',
          '1',
          '--backends',
          `q=http://127.0.0.1:${(backend.address() as AddressInfo).port}`,
        ],
        { minRoutable: 1 },
      ));
    });

    after(async () => {
      await lb.kill('SIGKILL');
      for (const res of streams) res.destroy();
      backend.closeAllConnections();
      await new Promise<void>((resolve) => backend.close(() => resolve()));
    });

    const stats = async (): Promise<StatsBackend> => json<{ backends: StatsBackend[] }>(await get(`${admin}/stats`)).backends.find((b) => b.id === 'q')!;

    it('answers 504 and counts nothing against the backend', async (t: TestContext) => {
      // Warm the one connection, so the long response below takes it rather than opening it.
      assert.equal((await get(`${url}/`)).status, 200);
      const long = await request(`${url}/stream`);
      assert.equal(long.statusCode, 200, 'the long response started');
      const t0 = Date.now();
      const queued = await get(`${url}/`);
      const waited = Date.now() - t0;
      t.diagnostic(`queued request: ${queued.status} after ${waited} ms`);
      assert.equal(queued.status, 504, queued.body);
      assert.ok(waited >= 350, `answered at its deadline, not before (${waited} ms)`);

      const s = await stats();
      assert.deepEqual({ failures: s.totals.failures, ejected: s.ejected, breaker: s.breaker }, { failures: 0, ejected: false, breaker: 'closed' });
      const detail = json<{ failures: number; lastError: unknown }>(await get(`${admin}/backends/q`));
      assert.deepEqual({ failures: detail.failures, lastError: detail.lastError }, { failures: 0, lastError: null });
      const metrics = (await get(`${admin}/metrics`)).body;
      assert.match(metrics, /^switchyard_backend_failures_total\{[^}]*backend="q"[^}]*\} 0$/m);

      // The connection is free again: the backend serves, still not ejected.
      streams.shift()!.end('done\n');
      assert.equal(await long.body.text(), 'first chunk\ndone\n');
      assert.equal((await get(`${url}/`)).status, 200);
    });

    it('still counts a deadline the backend itself let pass (the control)', async () => {
      const r = await get(`${url}/hang`);
      assert.equal(r.status, 504);
      const s = await stats();
      assert.deepEqual({ failures: s.totals.failures, ejected: s.ejected }, { failures: 1, ejected: true });
    });
  });
