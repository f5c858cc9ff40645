import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { E2E, ensureStack, proxyUrl, run, stackEnv } from './support/stack.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

interface ComposeRun {
  readonly requests: number;
  readonly errors: number;
  readonly balancerUsPerReq: number | null;
  readonly dockerProxyUsPerReq: number | null;
}

/**
 * Issue 14: `switchyard bench-compose` measures the running stack through its
 * published port (Docker's userland proxy in the path) and straight to the
 * balancer container, in one run. Here it runs a second each way, to prove it
 * finds the stack's balancer and reaches it both ways; the figures are in
 * docs/performance.md.
 */
describe('bench-compose against the running stack', () => {
  it("measures the published port and the balancer container directly, with the balancer's CPU both ways", async (t: TestContext) => {
    await ensureStack(3);
    const out = mkdtempSync(join(tmpdir(), 'swy-bench-compose-'));
    try {
      const args = [
        '--import',
        'tsx',
        'cli/switchyard.ts',
        'bench-compose',
        '--rounds',
        '1',
        '--duration',
        '1s',
        '--ramp',
        '0',
        '--connections',
        '16',
        '--project',
        E2E.project,
        '--network',
        E2E.network,
        '--published',
        `${proxyUrl}/`,
        '--out',
        out,
      ];
      const r = await run(process.execPath, args, { cwd: REPO, env: stackEnv(), timeoutMs: 120_000 });
      t.diagnostic(r.output.trim().split('\n').slice(-6).join('\n'));
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /published \/ direct: req\/s [\d.]+×, p99 [\d.]+×/);
      const file = readdirSync(out).find((f) => f.startsWith('compose-') && f.endsWith('.json'));
      assert.ok(file, 'a JSON result');
      const result = JSON.parse(readFileSync(join(out, file), 'utf8')) as { runs: Record<'published' | 'direct', ComposeRun[]> };
      for (const path of ['published', 'direct'] as const) {
        const [one] = result.runs[path];
        assert.ok(one && one.requests > 0, `${path}: requests were answered`);
        assert.equal(one.errors, 0, `${path}: no errors`);
        assert.ok(one.balancerUsPerReq !== null && one.balancerUsPerReq > 0, `${path}: the balancer container's CPU was read`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
