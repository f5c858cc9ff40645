import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import {
  adminBackends,
  docker,
  dockerCli,
  E2E,
  ensureStack,
  expectedFromDocker,
  redisClient,
  registryEntries,
  replica,
  sleep,
  waitFor,
} from './support/stack.js';

/**
 * Acceptance 7: a container without the labels, or labelled but on another
 * network, is never registered; the wrong network is reported as an error
 * in the controller's log rather than guessed around.
 */
describe('containers that must not be registered', () => {
  const names = { unlabelled: `${E2E.project}-unlabelled`, otherNet: `${E2E.project}-other-network`, disabled: `${E2E.project}-disabled` };
  let redis: Redis;

  before(async () => {
    await ensureStack(3);
    redis = await redisClient();
    for (const n of Object.values(names)) await dockerCli('rm', '-f', n).catch(() => undefined);
  });
  after(async () => {
    redis.disconnect();
    for (const n of Object.values(names)) await dockerCli('rm', '-f', n).catch(() => undefined);
  });

  it('an unlabelled container on the network, a labelled one on another network and a disabled one stay out', async (t: TestContext) => {
    const common = ['run', '-d', '--init', '--label', `switchyard.e2e=${E2E.project}`];
    // Same network, the demo backend, healthy, but no switchyard labels.
    await dockerCli(...common, '--name', names.unlabelled, '--network', E2E.network, E2E.image, 'backend', '--port', '8081');
    // Labelled as a backend, but attached to Docker's default bridge only.
    await dockerCli(
      ...common,
      '--name',
      names.otherNet,
      '--network',
      'bridge',
      '--label',
      'switchyard.enable=true',
      '--label',
      'switchyard.port=8081',
      E2E.image,
      'backend',
      '--port',
      '8081',
    );
    // On the network with a port label, but switched off.
    await dockerCli(
      ...common,
      '--name',
      names.disabled,
      '--network',
      E2E.network,
      '--label',
      'switchyard.enable=false',
      '--label',
      'switchyard.port=8081',
      E2E.image,
      'backend',
      '--port',
      '8081',
    );

    // Let them all become healthy: their health events trigger reconciles.
    for (const n of Object.values(names)) {
      await waitFor(`${n} healthy`, async () => (await docker.getContainer(n).inspect()).State.Health?.Status === 'healthy', 30_000, 200);
    }
    const controller = await replica(1, 'controller');
    const logs = await waitFor(
      'the controller to report the wrong network',
      async () => {
        const text = await dockerCli('logs', '--since', '2m', controller.Id);
        return text.split('\n').find((l) => l.includes('container not registered: misconfigured') && l.includes(names.otherNet));
      },
      15_000,
      250,
    );
    const line = JSON.parse(logs) as { level: string; reason: string };
    t.diagnostic(`controller: ${line.level}: ${line.reason}`);
    assert.equal(line.level, 'error');
    assert.match(line.reason, new RegExp(`not attached to network '${E2E.network}' \\(attached to: bridge\\)`));

    // Through at least one periodic resync (10 s) none of them appears, in Redis or in the balancer.
    const deadline = Date.now() + 11_000;
    const everSeen = new Set<string>();
    while (Date.now() < deadline) {
      for (const b of await registryEntries(redis)) everSeen.add(b.id);
      for (const b of await adminBackends()) everSeen.add(b.id);
      await sleep(250);
    }
    for (const n of Object.values(names)) assert.ok(!everSeen.has(n), `${n} was registered`);
    assert.deepEqual(
      [...everSeen].sort(),
      (await expectedFromDocker()).map((l) => l.split(' ')[0]),
    );
  });
});
