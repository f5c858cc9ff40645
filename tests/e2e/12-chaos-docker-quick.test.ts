import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertChaosHeld, chaosDoc, describeChaos } from '../helpers/chaos.js';
import { E2E, ensureStack, routable, run, stackEnv, waitFor } from './support/stack.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Issue 16: the shipped scenario scenarios/docker-quick.yaml on the Compose
 * stack, as `make chaos SCENARIO=scenarios/docker-quick.yaml` runs it: docker
 * stop, kill and pause of replicas, scale 3 -> 5 -> 3, Redis down 10 s and a
 * controller restart under load; no idempotent request lost, and every
 * convergence bound the scenario states met.
 */
describe('make chaos SCENARIO=scenarios/docker-quick.yaml on the Compose stack', () => {
  it('loses no idempotent request and converges within every bound the scenario states', async (t: TestContext) => {
    await ensureStack(3);
    mkdirSync(join(REPO, 'tests/output'), { recursive: true });
    const chart = join(REPO, 'tests/output/chaos-docker-quick.svg');
    const r = await run(
      process.execPath,
      ['--import', 'tsx', 'cli/switchyard.ts', 'chaos', 'scenarios/docker-quick.yaml', '--stack-dir', E2E.dir, '--json', '--chart', chart],
      { cwd: REPO, env: stackEnv(), timeoutMs: 300_000 },
    );
    const doc = chaosDoc(r.output);
    describeChaos(t, doc);
    assertChaosHeld(doc);
    assert.equal(r.code, 0);
    assert.ok(existsSync(chart));
    // The stack is as it was: three backends, all routable.
    await waitFor('three routable backends again', async () => (await routable()).length === 3, 30_000);
  });
});
