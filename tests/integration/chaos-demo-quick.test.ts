import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { REPO_ROOT, runSwitchyard } from '../helpers/processes.js';

interface Step {
  at: number;
  action: string;
  target: string;
  sent: number;
  lost: number;
  p99Ms: number | null;
  convergedMs: number | null;
  convergeBoundMs: number | null;
}

/**
 * The shipped scenario scenarios/demo-quick.yaml, as `make chaos` runs it: a
 * backend killed, stopped, paused, slowed and flapping under load on the local
 * demo, and no idempotent request lost. CI runs it in the integration stage.
 */
describe('make chaos SCENARIO=scenarios/demo-quick.yaml', () => {
  it('loses no idempotent request, converges within every bound the scenario states, and writes the chart', async (t: TestContext) => {
    mkdirSync(join(REPO_ROOT, 'tests/output'), { recursive: true });
    const chart = join(REPO_ROOT, 'tests/output/chaos-demo-quick.svg');
    const r = await runSwitchyard(['chaos', 'scenarios/demo-quick.yaml', '--json', '--chart', chart], { SWITCHYARD_ADMIN_TOKEN: '' }, 120_000);
    const doc = JSON.parse(r.stdout) as { ok: boolean; lost: number; lostIdempotent: number; steps: Step[]; runs: { sent: number; broken: string[] }[] };
    for (const s of doc.steps)
      t.diagnostic(
        `${(s.at / 1000).toFixed(1)} s ${s.action} ${s.target}: sent ${s.sent}, lost ${s.lost}, p99 ${s.p99Ms} ms, converged ${s.convergedMs ?? '-'} ms (bound ${s.convergeBoundMs ?? '-'})`,
      );
    t.diagnostic(`sent ${doc.runs[0]!.sent}, lost ${doc.lost} (idempotent ${doc.lostIdempotent}); broken: ${doc.runs[0]!.broken.join('; ') || 'none'}`);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.equal(doc.ok, true);
    assert.equal(doc.lostIdempotent, 0);
    assert.equal(doc.steps.length, 9);
    for (const s of doc.steps)
      if (s.convergeBoundMs !== null) assert.ok(s.convergedMs !== null && s.convergedMs <= s.convergeBoundMs, `${s.action} ${s.target}`);
    assert.ok(existsSync(chart));
  });
});
