import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { NO_FAULTS } from '../../backend/faults.js';
import { DEFAULT_RESILIENCE } from '../../balancer/router.js';
import { get, json, loadLoop } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// Faults show as a 503 from /health at once; the timeout only has to keep a busy machine's slow
// answer from counting as a failure (with fall 1, one late check would take a backend out).
const health = { enabled: true, path: '/health', intervalMs: 100, fastIntervalMs: 50, timeoutMs: 1000, rise: 1, fall: 1 };
/** The balancer routes to exactly these backends (its routable set follows health a rebuild later). */
const routesTo = (lb: TestBalancer, ids: string[]): boolean =>
  lb.lb.upstreams.routable
    .map((u) => u.id)
    .sort()
    .join() === ids.join();

describe('panic mode and slow start through a real proxy', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('below the panic threshold balances over every active backend, healthy or not, and stops when enough recover', async (t: TestContext) => {
    const backends = await Promise.all(['p1', 'p2', 'p3'].map((id) => TestBackend.start(id)));
    const lb = await TestBalancer.start({
      backends: backends.map((b) => b.spec()),
      settings: { health, resilience: { ...DEFAULT_RESILIENCE, outlier: { consecutiveFailures: 0 }, breaker: undefined, panicThresholdPercent: 50 } },
    });
    cleanup.push(() => lb.close(), ...backends.map((b) => () => b.close()));
    await lb.routable(3);
    const panicNow = async (): Promise<boolean> => json<{ resilience: { panic: boolean } }>(await get(`${lb.adminUrl}/stats`)).resilience.panic;

    // One unhealthy of three: 67 % healthy, above the threshold; it gets no traffic.
    backends[1]!.state.faults = { ...NO_FAULTS, unhealthy: true };
    await waitFor('p2 unhealthy', () => lb.lb.upstreams.get('p2')!.health === 'unhealthy', 3000);
    await waitFor('p1 and p3 routable, p2 not', () => routesTo(lb, ['p1', 'p3']), 3000);
    const normal = await loadLoop(`${lb.url}/`, 300, 4);
    assert.equal(normal.failed, 0);
    assert.equal(normal.byBackend.get('p2'), undefined, 'above the threshold the unhealthy backend is skipped');
    assert.equal(await panicNow(), false);

    // Two of three unhealthy: 33 % < 50 %: panic, all three share the traffic (they still serve).
    backends[2]!.state.faults = { ...NO_FAULTS, unhealthy: true };
    await waitFor('p3 unhealthy', () => lb.lb.upstreams.get('p3')!.health === 'unhealthy', 3000);
    const panic = await loadLoop(`${lb.url}/`, 300, 4);
    t.diagnostic(`in panic: ${JSON.stringify(Object.fromEntries(panic.byBackend))}`);
    assert.equal(panic.failed, 0);
    for (const id of ['p1', 'p2', 'p3'])
      assert.ok((panic.byBackend.get(id) ?? 0) >= 80, `${id} takes its share in panic: ${panic.byBackend.get(id) ?? 0} of 300`);
    assert.equal(await panicNow(), true);

    // p3 recovers: 67 % healthy, panic ends, p2 is skipped again.
    backends[2]!.state.faults = NO_FAULTS;
    await waitFor('p3 healthy', () => lb.lb.upstreams.get('p3')!.health === 'healthy', 3000);
    await waitFor('p1 and p3 routable again, p2 not', () => routesTo(lb, ['p1', 'p3']), 3000);
    const after = await loadLoop(`${lb.url}/`, 300, 4);
    assert.equal(after.byBackend.get('p2'), undefined);
    assert.equal(await panicNow(), false);
  });

  it("ramps a new backend's share up over the slow-start window", async (t: TestContext) => {
    const backends = await Promise.all(['s1', 's2', 's3'].map((id) => TestBackend.start(id)));
    const lb = await TestBalancer.start({
      backends: backends.slice(0, 2).map((b) => b.spec()),
      strategy: 'weighted-round-robin',
      settings: { health, resilience: { ...DEFAULT_RESILIENCE, slowStart: { windowMs: 3000, minWeightPercent: 10 }, tickMs: 100 } },
    });
    cleanup.push(() => lb.close(), ...backends.map((b) => () => b.close()));
    await lb.routable(2);
    // s1 and s2 ramp too, from their first passing check: let them reach full weight first.
    await waitFor('s1 and s2 past their ramp', () => ['s1', 's2'].every((id) => Date.now() - lb.lb.upstreams.get(id)!.healthySince > 3300), 6000, 20);
    await lb.registry.upsert(backends[2]!.spec());
    await lb.routable(3);
    // Share of s3 in consecutive half-second slices of steady traffic.
    const shares: number[] = [];
    for (let slice = 0; slice < 8; slice++) {
      const r = await loadLoop(`${lb.url}/`, 100_000, 4, { stopAfterMs: 500 });
      const total = [...r.byBackend.values()].reduce((a, b) => a + b, 0);
      shares.push((r.byBackend.get('s3') ?? 0) / total);
    }
    t.diagnostic(`s3 share per 0.5 s slice: ${shares.map((s) => `${(s * 100).toFixed(0)} %`).join(', ')}`);
    assert.ok(shares[0]! < 0.15, `it starts low: ${(shares[0]! * 100).toFixed(0)} % in the first slice (full share 33 %)`);
    assert.ok(shares[2]! > shares[0]!, 'and grows');
    const last = shares.at(-1)!;
    assert.ok(Math.abs(last - 1 / 3) < 0.06, `and reaches its full share once the window has passed: ${(last * 100).toFixed(0)} %`);
  });
});
