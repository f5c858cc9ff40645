import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { RegistryFeed } from './support/events.js';
import { describeLoad, LoadRun, nowMs } from './support/load.js';
import {
  dockerCli,
  ensureStack,
  expectedFromDocker,
  make,
  nameOf,
  proxyUrl,
  redisClient,
  registryEntries,
  replica,
  routable,
  sleep,
  waitFor,
} from './support/stack.js';

/** The registry as `id url` lines, read from Redis. */
async function registryLines(redis: Redis): Promise<string[]> {
  return (await registryEntries(redis)).map((b) => `${b.id} ${b.url}`).sort();
}

/**
 * Acceptance 6: restarting the controller, and stopping Redis for 10 s, under
 * load, lose no client request; afterwards the registry matches the running
 * containers exactly. Containers are started while each is away, so the
 * match proves the resync, not just an untouched registry.
 */
describe('controller restart and Redis outage under load', () => {
  const clients: { redis?: Redis; feed?: RegistryFeed } = {};
  before(async () => {
    await ensureStack(3);
  });
  after(async () => {
    clients.feed?.close();
    clients.redis?.disconnect();
    await dockerCli('start', nameOf(await replica(1, 'redis'))).catch(() => undefined);
    await dockerCli('start', nameOf(await replica(1, 'controller'))).catch(() => undefined);
    await make('scale', { N: 3 });
  });

  it('loses no request; the registry is resynced and matches the containers afterwards', async (t: TestContext) => {
    const controller = nameOf(await replica(1, 'controller'));
    const redisName = nameOf(await replica(1, 'redis'));
    clients.redis = await redisClient();
    clients.feed = await RegistryFeed.start(clients.redis);
    const load = new LoadRun({ url: proxyUrl, concurrency: 32, durationMs: 120_000, maxRequests: 10_000_000 });
    try {
      await sleep(3000);

      // 1. A plain restart of the controller with nothing changed writes nothing.
      const before = clients.feed.changes.length;
      await dockerCli('restart', controller);
      await sleep(2000);
      assert.deepEqual(clients.feed.changes.slice(before), [], 'a restarted controller with nothing to change writes nothing');

      // 2. Controller stopped; a backend starts meanwhile; the controller comes back and registers it.
      await dockerCli('stop', controller);
      await make('scale', { N: 4 });
      const b4 = nameOf(await replica(4));
      await waitFor(`${b4} healthy`, async () => (await replica(4)).State.Health?.Status === 'healthy', 20_000, 100);
      assert.ok(!(await registryLines(clients.redis)).some((l) => l.startsWith(`${b4} `)), 'nobody registers while the controller is down');
      const controllerStart = nowMs();
      await dockerCli('start', controller);
      const reg4 = await clients.feed.wait('upsert', b4, controllerStart, 20_000);
      t.diagnostic(
        `controller restarted: ${b4}, started while it was down, registered ${(reg4.at - controllerStart).toFixed(0)} ms after docker start of the controller`,
      );
      await waitFor(`${b4} routable`, async () => (await routable()).includes(b4), 10_000);

      // 3. Redis stopped for 10 s; a backend starts meanwhile.
      const outageStart = nowMs();
      await dockerCli('stop', redisName);
      clients.feed.close();
      clients.redis.disconnect();
      await make('scale', { N: 5 });
      const b5 = nameOf(await replica(5));
      await sleep(Math.max(0, 10_000 - (nowMs() - outageStart)));
      await dockerCli('start', redisName);
      const redisBack = nowMs();
      t.diagnostic(`Redis was down ${((redisBack - outageStart) / 1000).toFixed(1)} s`);
      clients.redis = await waitFor('Redis to answer again', () => redisClient(), 20_000, 200);
      await waitFor(`${b5} registered after Redis returned`, async () => (await registryLines(clients.redis!)).some((l) => l.startsWith(`${b5} `)), 30_000, 50);
      t.diagnostic(`${b5}, started while Redis was down, registered ${(nowMs() - redisBack).toFixed(0)} ms after Redis returned`);
      await waitFor('5 routable backends', async () => (await routable()).length === 5, 20_000);
      await sleep(2000);
    } finally {
      const r = await load.stop();
      t.diagnostic(describeLoad(r));
      assert.equal(r.failed, 0, `failed requests:\n${r.failures.join('\n')}`);
    }

    // The registry equals the running, healthy backend containers, nothing more.
    const expected = await expectedFromDocker();
    assert.equal(expected.length, 5);
    await waitFor('registry = containers', async () => JSON.stringify(await registryLines(clients.redis!)) === JSON.stringify(expected), 10_000);
    assert.deepEqual(await registryLines(clients.redis!), expected);
    assert.deepEqual(
      (await routable()).sort(),
      expected.map((l) => l.split(' ')[0]),
    );
  });
});
