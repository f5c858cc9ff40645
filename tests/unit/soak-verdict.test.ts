import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderSoakChart } from '../../cli/bench/soak-chart-svg.js';
import { judgeSoak, type SoakSample } from '../../cli/bench/soak-verdict.js';

const MiB = 1024 * 1024;

function run(rssAt: (t: number) => number, fdsAfter: number, upAfter: number): SoakSample[] {
  const s: SoakSample[] = [];
  for (let t = -2000; t < 0; t += 500)
    s.push({ tMs: t, phase: 'baseline', requests: 0, rssBytes: 60 * MiB, fds: 30 + (t === -1000 ? 1 : 0), upstreamSockets: 2 });
  for (let t = 0; t <= 100_000; t += 1000) s.push({ tMs: t, phase: 'load', requests: t * 5, rssBytes: rssAt(t), fds: 200, upstreamSockets: 120 });
  s.push({ tMs: 101_000, phase: 'settle', requests: 500_000, rssBytes: rssAt(100_000), fds: 80, upstreamSockets: 40 });
  s.push({ tMs: 106_000, phase: 'settle', requests: 500_000, rssBytes: rssAt(100_000), fds: fdsAfter, upstreamSockets: upAfter });
  return s;
}

const OPTS = { warmupMs: 20_000, windowMs: 10_000, maxRssGrowth: 0.1 };

describe('soak verdict', () => {
  it('passes a flat RSS after warm-up and fds back to baseline', () => {
    const v = judgeSoak(
      run((t) => (t < 20_000 ? (60 + t / 500) * MiB : 100 * MiB), 30, 2),
      OPTS,
    );
    assert.equal(v.pass, true, v.failures.join('; '));
    assert.equal(v.rssAfterWarmupMiB, 100);
    assert.equal(v.rssAtEndMiB, 100);
    assert.equal(v.fdsBaseline, 30);
    assert.equal(v.fdsAfter, 30);
  });

  it('fails an RSS that keeps growing after the warm-up by more than 10 %', () => {
    const v = judgeSoak(
      run((t) => (100 + t / 2000) * MiB, 30, 2),
      OPTS,
    );
    assert.equal(v.pass, false);
    assert.match(v.failures.join(), /RSS grew/);
    assert.ok(v.rssGrowth > 0.1);
  });

  it('fails fds or upstream sockets that stay above their baseline', () => {
    const v = judgeSoak(
      run(() => 100 * MiB, 31, 3),
      OPTS,
    );
    assert.deepEqual(v.failures, ['open fds did not return to baseline: 30 before, 31 after', 'upstream sockets left behind: 2 before, 3 after']);
  });

  it('judges a run shorter than its warm-up from its second half', () => {
    const v = judgeSoak(
      run((t) => (t < 50_000 ? 80 : 100) * MiB, 30, 2),
      { ...OPTS, warmupMs: 600_000 },
    );
    assert.equal(v.rssAfterWarmupMiB, 100);
    assert.equal(v.pass, true);
  });

  it('draws RSS, fds and upstream sockets as three line panels', () => {
    const svg = renderSoakChart(
      run(() => 100 * MiB, 30, 2),
      'soak <test>',
    );
    assert.equal((svg.match(/<polyline /g) ?? []).length, 3);
    assert.ok(svg.includes('soak &lt;test&gt;'));
  });
});
