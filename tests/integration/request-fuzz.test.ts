import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ENGINES } from '../helpers/hostile.js';
import { closeTargets, fuzz, startTargets, type FuzzTarget } from '../fuzz/harness.js';

/**
 * The differential request fuzzer, bounded for CI: the same seeded cases
 * (request heads, chunked bodies and backend responses, mutated) on every
 * engine, checked against the invariants of tests/fuzz/invariants.ts.
 * `make fuzz` runs longer; a failure found there becomes a case in
 * hostile-input.test.ts with its seed.
 */
const SEED = Number(process.env.SWITCHYARD_FUZZ_SEED ?? 20261204);
const CASES = Number(process.env.SWITCHYARD_FUZZ_CASES ?? 300);

describe('request fuzzer (CI run)', () => {
  let targets: FuzzTarget[];
  before(async () => {
    targets = await startTargets(ENGINES);
  });
  after(async () => {
    await closeTargets(targets);
  });

  it(`keeps every invariant on every engine for ${CASES} cases of seed ${SEED}`, async (t: TestContext) => {
    const report = await fuzz(targets, { seed: SEED, from: 0, cases: CASES });
    t.diagnostic(`${report.cases} cases x ${report.engines.length} engines in ${(report.ms / 1000).toFixed(1)} s: ${report.violations.length} violations`);
    const shown = report.violations
      .slice(0, 10)
      .map((v) => `seed ${v.seed} case ${v.n} [${v.engine}] ${v.rule} (${v.mutations.join('; ')}) ${JSON.stringify(v.bytes.slice(0, 160))}`);
    assert.deepEqual(shown, [], `replay with: make fuzz FUZZ_ARGS="--seed ${SEED} --from <case> --cases 1"`);
  });
});
