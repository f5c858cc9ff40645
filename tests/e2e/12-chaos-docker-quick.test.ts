import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { E2E, ensureStack, routable, run, stackEnv, waitFor } from './support/stack.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

interface Step {
  at: number;
  action: string;
  target: string;
  sent: number;
  lost: number;
  lostIdempotent: number;
  p99Ms: number | null;
  convergedMs: number | null;
  convergeBoundMs: number | null;
}

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
    const json = r.output.slice(r.output.indexOf('{\n'), r.output.lastIndexOf('\n}') + 2);
    const doc = JSON.parse(json) as {
      ok: boolean;
      lost: number;
      lostIdempotent: number;
      steps: Step[];
      runs: { sent: number; broken: string[]; lostBy: Record<string, number> }[];
    };
    for (const s of doc.steps)
      t.diagnostic(
        `${(s.at / 1000).toFixed(1)} s ${s.action} ${s.target}: sent ${s.sent}, lost ${s.lost} (GET ${s.lostIdempotent}), p99 ${s.p99Ms} ms, converged ${s.convergedMs ?? '-'} ms (bound ${s.convergeBoundMs ?? '-'})`,
      );
    const run0 = doc.runs[0]!;
    t.diagnostic(
      `sent ${run0.sent}, lost ${doc.lost} (idempotent ${doc.lostIdempotent}) ${JSON.stringify(run0.lostBy)}; broken: ${run0.broken.join('; ') || 'none'}`,
    );
    assert.equal(doc.lostIdempotent, 0);
    for (const s of doc.steps)
      if (s.convergeBoundMs !== null) assert.ok(s.convergedMs !== null && s.convergedMs <= s.convergeBoundMs, `${s.action} ${s.target}: ${s.convergedMs} ms`);
    assert.equal(doc.ok, true, run0.broken.join('; '));
    assert.equal(r.code, 0);
    assert.ok(existsSync(chart));
    // The stack is as it was: three backends, all routable.
    await waitFor('three routable backends again', async () => (await routable()).length === 3, 30_000);
  });
});
