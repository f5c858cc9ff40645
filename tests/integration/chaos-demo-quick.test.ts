import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { assertChaosHeld, chaosDoc, describeChaos } from '../helpers/chaos.js';
import { REPO_ROOT, runSwitchyard } from '../helpers/processes.js';

/**
 * The shipped scenario scenarios/demo-quick.yaml, as `make chaos` runs it: a
 * backend killed, stopped, paused, slowed, hung, answering errors and flapping
 * under load on the local
 * demo, and no idempotent request lost. CI runs it in the integration stage.
 */
describe('make chaos SCENARIO=scenarios/demo-quick.yaml', () => {
  it('loses no idempotent request, converges within every bound the scenario states, and writes the chart', async (t: TestContext) => {
    mkdirSync(join(REPO_ROOT, 'tests/output'), { recursive: true });
    const chart = join(REPO_ROOT, 'tests/output/chaos-demo-quick.svg');
    const r = await runSwitchyard(['chaos', 'scenarios/demo-quick.yaml', '--json', '--chart', chart], { SWITCHYARD_ADMIN_TOKEN: '' }, 120_000);
    const doc = chaosDoc(r.stdout);
    describeChaos(t, doc);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assertChaosHeld(doc);
    assert.equal(doc.steps.length, 13);
    assert.ok(existsSync(chart));
  });
});
