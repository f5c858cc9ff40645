import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { DEFAULT_RESILIENCE } from '../../balancer/router.js';
import { get, json, loadLoop, testClient } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { sleep } from '../helpers/wait.js';

interface QueueStatus {
  enabled: boolean;
  inFlight: number;
  queued: number;
  limit: number;
  queueSize: number;
  rejected: number;
  timedOut: number;
  admitted: number;
}

describe('admission control', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  // The raw engine queues requests it parsed itself; undici those http.Server parsed (server-client.ts).
  for (const engine of ['raw', 'undici'] as const) {
    it(`${engine} engine: with cap C and queue Q, C + Q + 100 concurrent slow requests give exactly 100 503s and never queue more than Q`, async (t: TestContext) => {
      const C = 4;
      const Q = 6;
      const backend = await TestBackend.start('slow', { faults: { latencyMs: 600, errorRate: 0, errorStatus: 500, unhealthy: false, hang: false } });
      const lb = await TestBalancer.start({
        backends: [backend.spec()],
        settings: { engine, admission: { maxInFlight: C, queueSize: Q, queueTimeoutMs: 10_000 } },
      });
      cleanup.push(
        () => backend.close(),
        () => lb.close(),
      );
      await lb.routable(1);
      const client = testClient(C + Q + 120);
      cleanup.push(() => client.close());
      let maxQueued = 0;
      let maxInFlight = 0;
      let sawFull: QueueStatus | undefined;
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const s = json<QueueStatus>(await get(`${lb.adminUrl}/queue/status`));
          maxQueued = Math.max(maxQueued, s.queued);
          maxInFlight = Math.max(maxInFlight, s.inFlight);
          if (s.queued === Q && s.inFlight === C) sawFull ??= s;
          await sleep(20);
        }
      })();
      const replies = await Promise.all(Array.from({ length: C + Q + 100 }, () => get(`${lb.url}/`, { dispatcher: client })));
      polling = false;
      await poller;
      const ok = replies.filter((r) => r.status === 200).length;
      const full = replies.filter((r) => r.status === 503);
      assert.equal(ok, C + Q, 'the capped and the queued requests are served');
      assert.equal(full.length, 100, 'exactly the overflow is refused');
      for (const r of full) {
        assert.equal(json<{ error: { code: string } }>(r).error.code, 'SWY_QUEUE_FULL');
        assert.equal(r.headers['retry-after'], '10');
      }
      assert.ok(maxQueued <= Q, `queue peaked at ${maxQueued}`);
      assert.ok(maxInFlight <= C, `in flight peaked at ${maxInFlight}`);
      assert.ok(sawFull, '/queue/status reported the cap reached and the queue full');
      const end = json<QueueStatus>(await get(`${lb.adminUrl}/queue/status`));
      assert.deepEqual(
        { enabled: end.enabled, limit: end.limit, queueSize: end.queueSize, rejected: end.rejected, inFlight: end.inFlight, queued: end.queued },
        { enabled: true, limit: C, queueSize: Q, rejected: 100, inFlight: 0, queued: 0 },
      );
      t.diagnostic(`cap ${C}, queue ${Q}: ${ok} served, ${full.length} x 503 SWY_QUEUE_FULL; queue peak ${maxQueued}, in-flight peak ${maxInFlight}`);
    });

    it(`${engine} engine: answers 503 SWY_QUEUE_TIMEOUT when a queued request waits too long, and frees its place if the client leaves`, async () => {
      const backend = await TestBackend.start('slower', { faults: { latencyMs: 1500, errorRate: 0, errorStatus: 500, unhealthy: false, hang: false } });
      const lb = await TestBalancer.start({
        backends: [backend.spec()],
        settings: { engine, admission: { maxInFlight: 1, queueSize: 5, queueTimeoutMs: 300 } },
      });
      cleanup.push(
        () => backend.close(),
        () => lb.close(),
      );
      await lb.routable(1);
      const client = testClient(8);
      cleanup.push(() => client.close());
      const first = get(`${lb.url}/`, { dispatcher: client });
      await sleep(50);
      const waited = await get(`${lb.url}/`, { dispatcher: client });
      assert.equal(waited.status, 503);
      assert.equal(json<{ error: { code: string } }>(waited).error.code, 'SWY_QUEUE_TIMEOUT');
      // A client that gives up while queued leaves the queue at once.
      const { request: httpRequest } = await import('node:http');
      const leaver = httpRequest(`${lb.url}/`, { agent: false });
      leaver.on('error', () => undefined);
      leaver.end();
      await sleep(100);
      assert.equal(json<QueueStatus>(await get(`${lb.adminUrl}/queue/status`)).queued, 1);
      leaver.destroy();
      await sleep(100);
      assert.equal(json<QueueStatus>(await get(`${lb.adminUrl}/queue/status`)).queued, 0);
      assert.equal((await first).status, 200);
      const s = json<QueueStatus & { cancelled: number }>(await get(`${lb.adminUrl}/queue/status`));
      assert.equal(s.timedOut, 1);
      assert.equal(s.cancelled, 1);
      assert.equal(s.inFlight, 0, 'no slot leaked');
      assert.equal((await get(`${lb.url}/`, { dispatcher: client })).status, 200);
    });
  }

  it('in adaptive mode the cap rises while latency is low and falls when latency rises', async (t: TestContext) => {
    const backend = await TestBackend.start('adaptive');
    const lb = await TestBalancer.start({
      backends: [backend.spec()],
      settings: {
        admission: {
          maxInFlight: 500,
          queueSize: 1000,
          queueTimeoutMs: 30_000,
          adaptive: { initialLimit: 20, minLimit: 4, windowMs: 250, minWindowSamples: 5 },
        },
        resilience: { ...DEFAULT_RESILIENCE, outlier: { consecutiveFailures: 0 } },
      },
    });
    cleanup.push(
      () => backend.close(),
      () => lb.close(),
    );
    await lb.routable(1);
    const client = testClient(64);
    cleanup.push(() => client.close());
    const limit = async (): Promise<number> => json<QueueStatus>(await get(`${lb.adminUrl}/queue/status`)).limit;
    const start = await limit();
    await loadLoop(`${lb.url}/`, 40_000, 32, { dispatcher: client, stopAfterMs: 4000 });
    const risen = await limit();
    assert.ok(risen > start, `the cap rose under low latency: ${start} -> ${risen}`);
    await backend.setFaults({ latencyMs: 80 });
    await loadLoop(`${lb.url}/`, 40_000, 32, { dispatcher: client, stopAfterMs: 5000 });
    const fallen = await limit();
    assert.ok(fallen < risen, `the cap fell when latency rose: ${risen} -> ${fallen}`);
    t.diagnostic(`adaptive cap: ${start} at start, ${risen} after 4 s of fast traffic, ${fallen} after 5 s at +80 ms`);
  });
});
