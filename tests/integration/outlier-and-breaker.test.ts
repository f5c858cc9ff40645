import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { DEFAULT_RESILIENCE, type ResilienceSettings } from '../../balancer/router.js';
import { get, json, loadLoop } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const FAILING = { latencyMs: 0, errorRate: 1, errorStatus: 500, unhealthy: false, hang: false };

const FAST_RECOVERY: ResilienceSettings = {
  ...DEFAULT_RESILIENCE,
  outlier: { consecutiveFailures: 5, baseEjectionMs: 1500, maxEjectionMs: 10_000, maxEjectionPercent: 50 },
  breaker: { failureRatio: 0.5, minRequests: 5, windowMs: 10_000, openMs: 1500, halfOpenRequests: 3 },
};

interface Backends {
  backends: { id: string; breaker: string; ejected: boolean; routable: boolean }[];
}

describe('a backend answering 500 to everything', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('is ejected after N failures with its breaker open, costs clients at most N errors, and returns through half-open when fixed', async (t: TestContext) => {
    const bad = await TestBackend.start('bad', { faults: FAILING });
    const good = await Promise.all(['good1', 'good2'].map((id) => TestBackend.start(id)));
    const lb = await TestBalancer.start({ backends: [bad.spec(), ...good.map((g) => g.spec())], settings: { resilience: FAST_RECOVERY } });
    cleanup.push(
      () => lb.close(),
      () => bad.close(),
      ...good.map((g) => () => g.close()),
    );
    await lb.routable(3);

    const episode = await loadLoop(`${lb.url}/`, 90, 1);
    const errors = episode.failed;
    assert.ok(errors <= 5, `client-visible errors ${errors} <= N = 5`);
    assert.equal(errors, 5, 'exactly N: the fifth failure ejects it');
    const view = json<Backends>(await get(`${lb.adminUrl}/backends`));
    const b = view.backends.find((x) => x.id === 'bad')!;
    assert.deepEqual(
      { ejected: b.ejected, breaker: b.breaker, routable: b.routable },
      { ejected: true, breaker: 'open', routable: false },
      'the admin API shows the ejection and the open breaker',
    );
    const types = lb.lb.events.recent(50).map((e) => `${e.type}:${e.backendId ?? ''}`);
    assert.ok(types.includes('ejected:bad') && types.includes('breaker-opened:bad'), types.join(' '));

    await bad.clearFaults();
    await waitFor(
      'the breaker to close after its half-open trials',
      async () => {
        await loadLoop(`${lb.url}/`, 9, 1);
        return lb.lb.router.facts(lb.lb.upstreams.get('bad')!).breaker === 'closed' && lb.lb.upstreams.get('bad')!.routable;
      },
      10_000,
      50,
    );
    const after = lb.lb.events.recent(50).map((e) => `${e.type}:${e.backendId ?? ''}`);
    assert.ok(after.includes('returned:bad') && after.includes('breaker-half-open:bad') && after.includes('breaker-closed:bad'), after.join(' '));
    const back = await loadLoop(`${lb.url}/`, 30, 1);
    assert.equal(back.failed, 0);
    assert.equal(back.byBackend.get('bad'), 10, 'its share is back');
    t.diagnostic(`500-for-all: ${errors} client errors of 90, then ejected with breaker open; fixed: half-open -> closed, share back`);
  });

  it('with --retry-on-status 500, clients see no error at all while it is ejected', async () => {
    const bad = await TestBackend.start('bad2', { faults: FAILING });
    const good = await Promise.all(['good3', 'good4'].map((id) => TestBackend.start(id)));
    const lb = await TestBalancer.start({
      backends: [bad.spec(), ...good.map((g) => g.spec())],
      settings: { resilience: FAST_RECOVERY, retryOnStatus: [500] },
    });
    cleanup.push(
      () => lb.close(),
      () => bad.close(),
      ...good.map((g) => () => g.close()),
    );
    await lb.routable(3);
    const episode = await loadLoop(`${lb.url}/`, 90, 1);
    assert.equal(episode.failed, 0, episode.failures.join('; '));
    assert.equal(episode.byBackend.get('bad2'), undefined);
    assert.equal(lb.lb.upstreams.get('bad2')!.routable, false, 'ejected all the same');
  });
});
