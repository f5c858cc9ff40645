import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { get, testClient } from '../helpers/http.js';
import { SETUP_NAMES, SETUPS, TestBackend, TestBalancer } from '../helpers/stack.js';

/**
 * A balancer told to stop while clients keep their connections busy (a rolling update of the
 * balancers, docs/swarm.md). Every request a client sent on an open connection must be answered:
 * only a new connection may be refused. Closing an idle connection at once would race a request
 * already on its way, which the client then sees as a reset.
 */
describe('stopping under keep-alive load', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  for (const setup of SETUP_NAMES) {
    it(`${setup}: every request sent on an open connection is answered; only new connections are refused`, async () => {
      const backend = await TestBackend.start('b');
      cleanup.push(() => backend.close());
      const t = await TestBalancer.start({ backends: [backend.spec()], settings: { ...SETUPS[setup] } });
      cleanup.push(() => t.close());
      await t.routable(1);
      const client = testClient(24);
      cleanup.push(() => client.close());

      let ok = 0;
      let refused = 0;
      const failures: string[] = [];
      let closing: Promise<void> | undefined;
      let closeMs = 0;
      // 16 connections kept busy, and 8 that idle for 150 ms between requests; bounded in count and time.
      const deadline = Date.now() + 30_000;
      const worker = async (pauseMs: number): Promise<void> => {
        for (let n = 0; n < 20_000 && Date.now() < deadline; n++) {
          try {
            const r = await get(`${t.url}/`, { dispatcher: client });
            if (r.status === 200) ok++;
            else failures.push(`${r.status} ${r.body.slice(0, 120)}`);
          } catch (err) {
            if ((err as { code?: string }).code === 'ECONNREFUSED') {
              refused++;
              return;
            }
            failures.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
          }
          if (ok >= 3000 && closing === undefined) {
            const t0 = Date.now();
            closing = t.lb.close().then(() => void (closeMs = Date.now() - t0));
          }
          if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
      };
      await Promise.all([...Array.from({ length: 16 }, () => worker(0)), ...Array.from({ length: 8 }, () => worker(150))]);
      await closing;
      process.stdout.write(`# ${setup}: ${ok} answered, ${refused} new connections refused, ${failures.length} failed; close took ${closeMs} ms\n`);
      assert.ok(closing !== undefined, 'the balancer was told to stop under load');
      assert.deepEqual(failures.slice(0, 10), [], 'no request sent on an open connection failed');
      assert.equal(refused, 24, 'each worker ended on a refused new connection');
      assert.ok(closeMs < 4000, `it stopped once the connections had gone (${closeMs} ms; shutdown timeout 5 s)`);
    });
  }
});
