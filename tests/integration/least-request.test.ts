import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { loadLoop, testClient } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';

describe('least-request', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('sends fewer requests to a backend that holds requests open than to its fast peers', async (t: TestContext) => {
    const holder = await TestBackend.start('holder', { faults: { latencyMs: 200, errorRate: 0, errorStatus: 500, unhealthy: false, hang: false } });
    const fast = await Promise.all(['fast1', 'fast2'].map((id) => TestBackend.start(id)));
    const lb = await TestBalancer.start({ backends: [holder.spec(), ...fast.map((f) => f.spec())], strategy: 'least-request' });
    cleanup.push(
      () => lb.close(),
      () => holder.close(),
      ...fast.map((f) => () => f.close()),
    );
    await lb.routable(3);
    const client = testClient(16);
    cleanup.push(() => client.close());
    const r = await loadLoop(`${lb.url}/`, 100_000, 12, { dispatcher: client, stopAfterMs: 4000 });
    assert.equal(r.failed, 0);
    const held = r.byBackend.get('holder') ?? 0;
    const peers = Math.min(r.byBackend.get('fast1') ?? 0, r.byBackend.get('fast2') ?? 0);
    t.diagnostic(`least-request over 4 s: holder ${held}, fast1 ${r.byBackend.get('fast1')}, fast2 ${r.byBackend.get('fast2')}`);
    assert.ok(held * 10 < peers, `holder got ${held}, each fast peer at least ${peers}`);
  });
});
