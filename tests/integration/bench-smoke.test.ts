import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { BenchResult } from '../../cli/bench/results.js';
import type { SoakResult } from '../../cli/bench/soak-main.js';
import { processTree } from '../../cli/bench/proc-stats.js';
import { REPO_ROOT, runSwitchyard } from '../helpers/processes.js';

const OUT = `${REPO_ROOT}/tests/output/bench-smoke`;

function resultPath(stdout: string): string {
  const m = /^Results: (.+\.json)$/m.exec(stdout);
  assert.ok(m, `no 'Results:' line in: ${stdout.slice(-500)}`);
  return m[1]!;
}

/** Our own descendants still alive, but for tsx's esbuild service (the bench must stop every process it started). */
const leftovers = (): string[] =>
  processTree(process.pid)
    .filter((p) => p !== process.pid)
    .map((p) => {
      try {
        return `${p} ${readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`;
      } catch {
        return '';
      }
    })
    .filter((line) => line !== '' && !/esbuild/.test(line));

describe('make bench / make soak, smoke runs (a few seconds each; CI proves they work, figures are not judged)', () => {
  it('switchyard bench --smoke measures every proxy it can run, with non-zero req/s, and says why it skipped the others', async (t) => {
    rmSync(OUT, { recursive: true, force: true });
    const r = await runSwitchyard(['bench', '--smoke', '--out', OUT], {}, 600_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const path = resultPath(r.stdout);
    const result = JSON.parse(readFileSync(path, 'utf8')) as BenchResult;
    assert.equal(result.tool, 'switchyard-bench');
    assert.equal(result.settings.smoke, true);
    assert.ok(['wrk', 'autocannon'].includes(result.loadGenerator));
    const measured = new Set(result.rows.filter((x) => x.backend === 'nginx' || !result.rows.some((y) => y.backend === 'nginx')).map((x) => x.proxy));
    for (const proxy of result.settings.proxies) {
      const skipped = result.skipped.find((s) => s.proxy.startsWith(`${proxy} (`));
      assert.ok(measured.has(proxy) || skipped, `${proxy} neither measured nor reported as skipped`);
      if (skipped) t.diagnostic(`not run: ${skipped.proxy}: ${skipped.reason}`);
    }
    assert.ok(measured.has('switchyard') && measured.has('direct'), 'Switchyard and the direct ceiling always run');
    // HTTPS and HTTP/2 rows (issue 18): wrk over TLS, h2load over TLS, one certificate for all
    const tlsProxies = result.settings.tlsProxies ?? [];
    assert.ok(tlsProxies.includes('switchyard-tls') && tlsProxies.includes('switchyard-h2'), `HTTPS and HTTP/2 rows by default: ${tlsProxies.join(', ')}`);
    for (const proxy of tlsProxies) {
      const skipped = result.skipped.find((s) => s.proxy.startsWith(`${proxy} (`));
      assert.ok(measured.has(proxy) || skipped, `${proxy} neither measured nor reported as skipped`);
      if (skipped) t.diagnostic(`not run: ${skipped.proxy}: ${skipped.reason}`);
    }
    if (result.loadGenerator === 'wrk') for (const p of ['switchyard-tls', 'nginx-tls', 'haproxy-tls']) assert.ok(measured.has(p), `${p} measured over HTTPS`);
    if (result.machine.versions.h2load !== undefined) {
      for (const p of ['switchyard-h2', 'nginx-h2', 'haproxy-h2']) assert.ok(measured.has(p), `${p} measured over HTTP/2`);
      assert.match(result.notes.join('\n'), /Switchyard HTTP\/2 \(1 process\) \(nginx backends\) negotiated TLSv1\.[23] \S+, ALPN h2/);
    }
    for (const row of result.rows.filter((x) => x.protocol === 'h2'))
      assert.ok(row.median.p99Ms > 0 && row.median.errors === 0, `${row.proxy}: p99 from h2load's log, no errors`);
    for (const row of result.rows) {
      assert.ok(row.median.rps > 0, `${row.proxy} (${row.backend}) has req/s ${row.median.rps}`);
      if (row.proxy !== 'direct') {
        assert.ok(row.median.cpuUsPerReq !== null && row.median.cpuUsPerReq > 0, `${row.proxy} CPU/request`);
        assert.ok(row.median.rssMiB !== null && row.median.rssMiB > 1, `${row.proxy} RSS`);
      }
    }
    assert.ok(result.checks.length >= 8);
    assert.ok(existsSync(path.replace(/\.json$/, '.svg')));
    assert.match(r.stdout, /×ngx\s+×sy/);
    assert.deepEqual(leftovers(), [], 'every process the bench started is gone');
    t.diagnostic(r.stdout);
  });

  it('switchyard soak --smoke records RSS, fds and upstream sockets while clients abort mid-flight; fds return to baseline', async (t) => {
    const r = await runSwitchyard(['soak', '--smoke', '--out', OUT], {}, 120_000);
    const result = JSON.parse(readFileSync(resultPath(r.stdout), 'utf8')) as SoakResult;
    assert.equal(r.code, result.verdict.pass ? 0 : 1, 'the exit code follows the verdict');
    assert.ok(result.load.ok > 0, 'requests were served');
    assert.ok(result.load.aborted > 0, 'some clients aborted mid-flight');
    assert.equal(result.load.errors, 0, `errors: ${result.load.lastError}`);
    for (const phase of ['baseline', 'load', 'settle'] as const)
      assert.ok(
        result.samples.some((s) => s.phase === phase),
        `samples in phase ${phase}`,
      );
    assert.ok(result.samples.every((s) => s.rssBytes > 0 && s.fds > 0));
    const v = result.verdict;
    assert.ok(v.fdsAfter <= v.fdsBaseline, `fds back to baseline: ${v.fdsBaseline} -> ${v.fdsAfter}`);
    assert.ok(v.upstreamSocketsAfter <= v.upstreamSocketsBaseline, `no upstream socket left behind: ${v.upstreamSocketsBaseline} -> ${v.upstreamSocketsAfter}`);
    assert.ok(v.rssAfterWarmupMiB > 0 && v.rssAtEndMiB > 0);
    assert.deepEqual(leftovers(), []);
    t.diagnostic(r.stdout);
  });
});
