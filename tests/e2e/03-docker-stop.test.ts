import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { watchStack } from './support/events.js';
import { describeLoad, LoadRun } from './support/load.js';
import { docker, make, nameOf, proxyUrl, replica, routable, sleep, waitFor } from './support/stack.js';

/**
 * Acceptance 3: `docker stop` of a backend under 32 concurrent GETs for at
 * least 20 s: no client request fails, and the stopped backend receives no
 * new request once its stop signal has been seen (the controller marks it
 * draining on the `kill` event, before the process exits).
 */
describe('docker stop of a backend under load', () => {
  const watch = watchStack(3);

  it('loses no request, and the backend gets no new request after its stop signal', async (t: TestContext) => {
    const victim = await replica(3);
    const name = nameOf(victim);
    const load = new LoadRun({ url: proxyUrl, concurrency: 32, durationMs: 22_000, maxRequests: 3_000_000 });
    await sleep(6000);
    const stopped = make('stop', { N: 3 });
    const kill = await watch.events.wait('kill', victim.Id);
    const drain = await watch.feed.wait('state', name, kill.at - 50);
    const die = await watch.events.wait('die', victim.Id, 20_000);
    await stopped;
    const r = await load.done;
    t.diagnostic(describeLoad(r));

    const served = r.records.filter((x) => x.backend === name && x.status === 200);
    const lastEnd = Math.max(...served.map((x) => x.end));
    const lastStart = Math.max(...served.map((x) => x.start));
    const afterSignal = served.filter((x) => x.start > kill.at).length;
    const inspect = await docker.getContainer(victim.Id).inspect();
    const kills = watch.events.events.filter((e) => e.id === victim.Id && e.action === 'kill').map((e) => e.signal);
    t.diagnostic(
      `${name}: kill(SIGTERM) event -> draining written ${(drain.at - kill.at).toFixed(1)} ms; ` +
        `kill event -> last response from it ${(lastEnd - kill.at).toFixed(1)} ms (last request sent ${(lastStart - kill.at).toFixed(1)} ms after the event); ` +
        `${afterSignal} requests sent after the event still reached it (in flight before the balancer applied the drain); ` +
        `kill -> die ${(die.at - kill.at).toFixed(0)} ms; exit code ${inspect.State.ExitCode}; signals ${kills.join(',')}`,
    );

    assert.ok(r.durationMs >= 20_000, `the load ran ${r.durationMs} ms`);
    assert.equal(r.failed, 0, `failed requests:\n${r.failures.join('\n')}`);
    assert.ok(served.length > 100, `${name} served ${served.length} requests before it was stopped`);
    assert.ok(drain.at - kill.at < 250, `draining written ${(drain.at - kill.at).toFixed(1)} ms after the stop signal`);
    assert.ok(lastEnd - kill.at < 1000, `last response from the stopped backend ${(lastEnd - kill.at).toFixed(0)} ms after its stop signal`);
    // Nothing sent after the drain reached the balancers (plus its pub/sub hop) went to it.
    assert.ok(lastStart < drain.at + 200, `a request sent ${(lastStart - drain.at).toFixed(0)} ms after the drain still went to ${name}`);
    assert.ok(die.at > lastEnd - 5, 'the backend finished its last request before it died');
    assert.deepEqual(kills, ['15'], 'stopped by SIGTERM alone: it exited before Docker had to SIGKILL it');
    assert.equal(inspect.State.ExitCode, 0, 'a clean exit');
    const balancerView = await routable();
    assert.ok(!balancerView.includes(name), `${name} is no longer routable`);
  });

  it('make start brings it back into rotation', async (t: TestContext) => {
    const victim = await replica(3);
    await make('start', { N: 3 });
    const t0 = Date.now();
    await waitFor('the restarted backend to be routable', async () => (await routable()).includes(nameOf(victim)), 20_000);
    t.diagnostic(`routable ${Date.now() - t0} ms after docker start`);
    const load = new LoadRun({ url: proxyUrl, concurrency: 4, durationMs: 1000, maxRequests: 300 });
    const r = await load.done;
    assert.equal(r.failed, 0);
    assert.ok((r.byBackend.get(nameOf(victim))?.count ?? 0) > 0, `traffic reaches ${nameOf(victim)} again`);
  });
});
