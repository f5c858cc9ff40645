import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { DockerEventLog } from './support/events.js';
import { describeLoad, LoadRun } from './support/load.js';
import { ensureStack, make, nameOf, proxyUrl, replica, routable, waitFor } from './support/stack.js';

/**
 * Acceptance 2: scaled to 5 backends, each new one receives traffic within
 * 3 s of its container reporting its first passing health check.
 */
describe('make scale N=5', () => {
  let events: DockerEventLog;
  before(async () => {
    await ensureStack(3);
    events = await DockerEventLog.start();
  });
  after(async () => {
    events.close();
    await make('scale', { N: 3 });
  });

  it('all 5 backends receive traffic within 3 s of their first health check, and none of the traffic fails', async (t: TestContext) => {
    const load = new LoadRun({ url: proxyUrl, concurrency: 8, durationMs: 60_000, maxRequests: 500_000 });
    try {
      const scaled = await make('scale', { N: 5 });
      t.diagnostic(`make scale N=5: ${(scaled.ms / 1000).toFixed(1)} s`);
      const fresh = await Promise.all([4, 5].map((n) => replica(n)));
      const names = fresh.map(nameOf);
      await waitFor('traffic on all 5 backends', () => names.every((n) => load.records.some((r) => r.backend === n && r.status === 200)), 30_000);
      for (const c of fresh) {
        const started = await events.wait('start', c.Id);
        const healthy = await events.wait('health_status: healthy', c.Id);
        const first = load.records.filter((r) => r.backend === nameOf(c) && r.status === 200).reduce((m, r) => Math.min(m, r.end), Infinity);
        const healthyToTraffic = first - healthy.at;
        t.diagnostic(
          `${nameOf(c)}: start -> healthy ${(healthy.at - started.at).toFixed(0)} ms, healthy -> first response ${healthyToTraffic.toFixed(0)} ms, start -> first response ${(first - started.at).toFixed(0)} ms`,
        );
        assert.ok(healthyToTraffic < 3000, `${nameOf(c)} got its first request ${healthyToTraffic.toFixed(0)} ms after its first passing health check`);
      }
      assert.equal((await routable()).length, 5);
    } finally {
      const r = await load.stop();
      t.diagnostic(describeLoad(r));
      assert.equal(r.failed, 0, r.failures.join('\n'));
      assert.equal(r.byBackend.size, 5);
    }
  });

  it('scaling back to 3 drains the two extra backends without a failed request', async (t: TestContext) => {
    const load = new LoadRun({ url: proxyUrl, concurrency: 8, durationMs: 60_000, maxRequests: 500_000 });
    try {
      await make('scale', { N: 3 });
      await waitFor('3 routable backends', async () => (await routable()).length === 3, 15_000);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      const r = await load.stop();
      t.diagnostic(describeLoad(r));
      assert.equal(r.failed, 0, r.failures.join('\n'));
    }
  });
});
