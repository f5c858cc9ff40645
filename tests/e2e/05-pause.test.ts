import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { watchStack } from './support/events.js';
import { describeLoad, LoadRun } from './support/load.js';
import { make, nameOf, proxyUrl, replica, routable, sleep, waitFor } from './support/stack.js';

/**
 * Acceptance 5: `docker pause` takes a backend out of rotation (the pause
 * event, and the balancer's health check) with client p99 under 2 s;
 * `docker unpause` brings it back.
 */
describe('docker pause and unpause of a backend under load', () => {
  const watch = watchStack(3);

  it('out of rotation while paused with p99 under 2 s, back after unpause', async (t: TestContext) => {
    const victim = await replica(1);
    const name = nameOf(victim);
    const load = new LoadRun({ url: proxyUrl, concurrency: 32, durationMs: 20_000, maxRequests: 3_000_000, timeoutMs: 15_000 });
    await sleep(4000);
    await make('pause', { N: 1 });
    const pause = await watch.events.wait('pause', victim.Id);
    const removed = await watch.feed.wait('remove', name, pause.at - 50, 5000);
    await waitFor('out of rotation', async () => !(await routable()).includes(name), 5000, 10);
    await sleep(6000);
    await make('unpause', { N: 1 });
    const unpause = await watch.events.wait('unpause', victim.Id);
    const back = await watch.feed.wait('upsert', name, unpause.at - 50, 15_000);
    await waitFor('back in rotation', async () => (await routable()).includes(name), 10_000, 20);
    const backInRotationAt = Date.now();
    const r = await load.done;
    t.diagnostic(describeLoad(r));
    const servedAfter = r.records.filter((x) => x.backend === name && x.status === 200 && x.start > back.at).length;
    const slow = r.records.filter((x) => x.end - x.start > 2000).length;
    t.diagnostic(
      `${name}: pause event -> deregistered ${(removed.at - pause.at).toFixed(1)} ms; unpause event -> registered again ${(back.at - unpause.at).toFixed(0)} ms ` +
        `(after its Docker health check passed again); ${slow} requests took over 2 s (in flight to it when it froze); ${servedAfter} requests served by it after its return`,
    );
    assert.equal(r.failed, 0, `failed requests:\n${r.failures.join('\n')}`);
    assert.ok(removed.at - pause.at < 1000, `deregistered ${(removed.at - pause.at).toFixed(0)} ms after the pause`);
    assert.ok(r.p99 < 2000, `p99 ${r.p99.toFixed(0)} ms`);
    assert.ok(backInRotationAt <= r.records[r.records.length - 1]!.end + 20_000);
    assert.ok(servedAfter > 0, `${name} serves again after unpause`);
  });
});
