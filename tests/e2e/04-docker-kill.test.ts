import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { watchStack } from './support/events.js';
import { describeLoad, LoadRun, nowMs } from './support/load.js';
import { adminBackends, make, nameOf, proxyUrl, registryEntries, replica, routable, sleep, waitFor } from './support/stack.js';

/**
 * Acceptance 4: `docker kill` (SIGKILL) of a backend under the same load: no
 * GET fails (the balancer retries what the dead backend dropped) and the
 * registry entry is gone within 1 s.
 */
describe('docker kill of a backend under load', () => {
  const watch = watchStack(3);

  it('loses no GET and deregisters the backend within 1 s', async (t: TestContext) => {
    const victim = await replica(2);
    const name = nameOf(victim);
    const load = new LoadRun({ url: proxyUrl, concurrency: 32, durationMs: 21_000, maxRequests: 3_000_000 });
    await sleep(6000);
    const killed = make('kill', { N: 2 });
    const kill = await watch.events.wait('kill', victim.Id);
    // Watch the balancer's own view too, as fast as it can be read.
    let goneFromBalancerAt = 0;
    const balancerWatch = waitFor(
      'the balancer to drop the backend',
      async () => {
        const ids = (await adminBackends()).map((b) => b.id);
        if (!ids.includes(name)) goneFromBalancerAt = nowMs();
        return goneFromBalancerAt;
      },
      5000,
      5,
    );
    const removed = await watch.feed.wait('remove', name, kill.at - 50, 5000);
    await balancerWatch;
    await killed;
    const inRedis = (await registryEntries(watch.redis)).map((b) => b.id);
    const r = await load.done;
    t.diagnostic(describeLoad(r));
    const die = watch.events.find('die', victim.Id);
    t.diagnostic(
      `${name}: kill(SIGKILL) event -> registry entry removed ${(removed.at - kill.at).toFixed(1)} ms, -> gone from the balancer ${(goneFromBalancerAt - kill.at).toFixed(1)} ms; ` +
        `kill -> die event ${die ? (die.at - kill.at).toFixed(1) : '?'} ms`,
    );
    assert.equal(kill.signal, '9');
    assert.equal(r.failed, 0, `failed requests:\n${r.failures.join('\n')}`);
    assert.ok(r.durationMs >= 20_000, `the load ran ${r.durationMs} ms`);
    assert.ok(removed.at - kill.at < 1000, `registry entry removed ${(removed.at - kill.at).toFixed(0)} ms after the kill`);
    assert.ok(goneFromBalancerAt - kill.at < 1000, `balancer dropped it ${(goneFromBalancerAt - kill.at).toFixed(0)} ms after the kill`);
    assert.ok(!inRedis.includes(name));
    assert.ok(!(await routable()).includes(name));
  });

  it('make start brings it back', async () => {
    const victim = await replica(2);
    await make('start', { N: 2 });
    await waitFor('the restarted backend to be routable', async () => (await routable()).includes(nameOf(victim)), 20_000);
  });
});
