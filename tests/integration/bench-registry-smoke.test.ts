import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { RegistryBenchResult } from '../../cli/bench/registry-main.js';
import { REPO_ROOT, runSwitchyard } from '../helpers/processes.js';

const OUT = `${REPO_ROOT}/tests/output/bench-registry`;

describe('make bench-registry, smoke run (CI proves it works; the 10,000-backend figures are in docs/performance.md)', () => {
  it('writes 500 backends into a real Redis, a real balancer routes to all of them, and every figure is measured', async (t) => {
    rmSync(OUT, { recursive: true, force: true });
    const r = await runSwitchyard(['bench-registry', '--backends', '500', '--listeners', '2', '--settle', '1s', '--no-check', '--out', OUT], {}, 180_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const m = /^result: (.+\.json)$/m.exec(r.stdout);
    assert.ok(m, `no 'result:' line in: ${r.stdout.slice(-500)}`);
    const result = JSON.parse(readFileSync(m[1]!, 'utf8')) as RegistryBenchResult;
    t.diagnostic(r.stdout.split('\n').slice(0, 9).join('\n'));
    assert.equal(result.tool, 'switchyard-bench-registry');
    const f = result.figures;
    assert.ok(f.applyMs >= 0 && f.applyMs < 60_000, `apply measured (${f.applyMs} ms)`);
    assert.ok(f.allRoutableMs > 0 && f.allRoutableMs < 120_000, 'every backend became routable');
    assert.ok(f.rssAfterMb > 0 && Number.isFinite(f.rssGrowthMb));
    assert.ok(Number.isFinite(f.eventLoopDelayMaxMs) && Number.isFinite(f.steadyEventLoopDelayMaxMs), 'event-loop delay read from the balancer /metrics');
    assert.ok(f.probes > 0, 'proxy requests were sent while applying');
    assert.ok(f.metricsBytes > 0);
    // 500 backends, 100 with their own series: the rest share `_other`.
    assert.ok(f.metricsBytes < 1024 * 1024, `/metrics of 500 backends is ${f.metricsBytes} bytes`);
  });
});
