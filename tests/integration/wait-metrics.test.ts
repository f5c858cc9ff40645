import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { get } from '../helpers/http.js';
import { sumMetric } from '../helpers/metrics-text.js';
import { TEST_SETTINGS, TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * What a request waits for, in /metrics: a backend connection (one connection
 * allowed, three requests to a 150 ms backend: two wait for it), a place in
 * the admission queue, and the event loop; and how many connections each pool
 * opened. Real sockets, every engine that has a connection wait.
 */
const SLOW_MS = 150;

async function metrics(lb: TestBalancer): Promise<string> {
  return (await get(`${lb.adminUrl}/metrics`)).body;
}

/** Samples of a histogram above `seconds` (its count less its le=<bound> bucket). */
function above(text: string, name: string, bound: string): number {
  return sumMetric(text, `${name}_count`) - sumMetric(text, `${name}_bucket`, (l) => l.includes(`le="${bound}"`));
}

for (const engine of ['raw', 'undici'] as const) {
  describe(`wait histograms, ${engine} engine`, () => {
    let backend: TestBackend;
    let lb: TestBalancer;
    before(async () => {
      backend = await TestBackend.start('w1', { faults: { latencyMs: SLOW_MS, errorRate: 0, errorStatus: 500, unhealthy: false, hang: false } });
      lb = await TestBalancer.start({ backends: [backend.spec()], settings: { engine, pool: { ...TEST_SETTINGS.pool, connections: 1 } } });
      await lb.routable(1);
    });
    after(async () => {
      await lb.close();
      await backend.close();
    });

    it('counts the wait for a connection when the pool is full, and the one connection opened', async () => {
      const replies = await Promise.all([0, 1, 2].map(() => get(`${lb.url}/`)));
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 200, 200],
      );
      const text = await metrics(lb);
      assert.equal(sumMetric(text, 'switchyard_upstream_connection_wait_seconds_count'), 3, 'one wait per attempt');
      // The second waited one response (about 150 ms), the third two.
      assert.ok(above(text, 'switchyard_upstream_connection_wait_seconds', '0.1') >= 2, 'two requests waited for the only connection');
      assert.equal(
        sumMetric(text, 'switchyard_backend_connections_opened_total', (l) => l.includes('backend="w1"')),
        1,
      );
      // Sequential requests then reuse it: no new connection, next to no wait.
      for (let i = 0; i < 3; i++) assert.equal((await get(`${lb.url}/`)).status, 200);
      const later = await metrics(lb);
      assert.equal(
        sumMetric(later, 'switchyard_backend_connections_opened_total', (l) => l.includes('backend="w1"')),
        1,
      );
      assert.equal(above(later, 'switchyard_upstream_connection_wait_seconds', '0.1'), above(text, 'switchyard_upstream_connection_wait_seconds', '0.1'));
    });
  });
}

describe('admission queue and event-loop histograms', () => {
  let backend: TestBackend;
  let lb: TestBalancer;
  before(async () => {
    backend = await TestBackend.start('q1', { faults: { latencyMs: SLOW_MS, errorRate: 0, errorStatus: 500, unhealthy: false, hang: false } });
    lb = await TestBalancer.start({ backends: [backend.spec()], settings: { admission: { maxInFlight: 1, queueSize: 10, queueTimeoutMs: 10_000 } } });
    await lb.routable(1);
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  it('counts how long queued requests waited for admission', async () => {
    const replies = await Promise.all([0, 1, 2].map(() => get(`${lb.url}/`)));
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200],
    );
    const text = await metrics(lb);
    assert.equal(sumMetric(text, 'switchyard_admission_queue_wait_seconds_count'), 2, 'the two that queued');
    assert.equal(above(text, 'switchyard_admission_queue_wait_seconds', '0.1'), 2);
  });

  it('fills the event-loop delay histogram, and a blocked loop shows in its tail', async () => {
    const count = async (): Promise<number> => sumMetric(await metrics(lb), 'switchyard_event_loop_delay_seconds_count');
    await waitFor('event-loop samples', async () => (await count()) > 0, 5000, 100);
    const before = above(await metrics(lb), 'switchyard_event_loop_delay_seconds', '0.1');
    // This test shares the balancer's event loop: block it for 300 ms.
    const end = performance.now() + 300;
    while (performance.now() < end);
    await waitFor('the blocked turn counted', async () => above(await metrics(lb), 'switchyard_event_loop_delay_seconds', '0.1') > before, 5000, 100);
  });
});
