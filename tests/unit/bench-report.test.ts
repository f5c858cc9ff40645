import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderBenchChart } from '../../cli/bench/bench-chart-svg.js';
import { acceptanceChecks } from '../../cli/bench/checks.js';
import { rotate } from '../../cli/bench/main.js';
import { renderChecks, renderRatioTable, renderRounds } from '../../cli/bench/ratio-table.js';
import { median, medianFigures, ratio, type BenchResult, type BenchRow, type Figures } from '../../cli/bench/results.js';

const fig = (rps: number, p99Ms: number, cpuUsPerReq: number | null, errors = 0): Figures => ({
  rps,
  p50Ms: p99Ms / 4,
  p99Ms,
  p999Ms: p99Ms * 2,
  maxMs: p99Ms * 4,
  errors,
  requests: rps * 5,
  rssMiB: cpuUsPerReq === null ? null : 50,
  cpuUsPerReq,
});
const row = (proxy: string, connections: number, f: Figures): BenchRow => ({ proxy, label: proxy, backend: 'nginx', connections, rounds: [f], median: f });

const ROWS: BenchRow[] = [
  row('direct', 64, fig(80_000, 1, null)),
  row('switchyard', 64, fig(30_000, 4, 40)),
  row('nginx', 64, fig(75_000, 2, 12)),
  row('undici-loop', 64, fig(32_000, 4, 38)),
  row('http-proxy-agent', 64, fig(9_000, 9, 120)),
  row('naive', 64, fig(2_500, 30, 480)),
  row('switchyard', 256, fig(28_000, 20, 42, 1)),
  row('nginx', 256, fig(70_000, 8, 13)),
];

describe('bench results', () => {
  it('takes medians per figure and sums errors over rounds', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    const m = medianFigures([fig(10, 1, 5), fig(30, 3, null, 2), fig(20, 2, 7)]);
    assert.equal(m.rps, 20);
    assert.equal(m.p99Ms, 2);
    assert.equal(m.cpuUsPerReq, 6, 'unknown CPU figures are left out of the median');
    assert.equal(m.errors, 2);
  });

  it('gives ratios only between known, non-zero figures', () => {
    assert.equal(ratio(30, 60), 0.5);
    assert.equal(ratio(null, 60), null);
    assert.equal(ratio(30, 0), null);
  });

  it('rotates the proxy order each round', () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((k) => rotate(['a', 'b', 'c'], k).join('')),
      ['abc', 'bca', 'cab', 'abc'],
    );
  });

  it('prints each figure with its ratio to nginx and to Switchyard', () => {
    const text = renderRatioTable(ROWS, 3);
    assert.match(text, /^64 connections, nginx backends, medians of 3 rounds/m);
    const sy = text.split('\n').find((l) => l.startsWith('switchyard '))!;
    // req/s 30.0k, 0.40 × nginx, 1.00 × Switchyard; CPU 40.0 µs, 3.33 × nginx, 1.00 × Switchyard
    assert.match(sy, /30\.0k\s+0\.40\s+1\.00/);
    assert.match(sy, /40\.0\s+3\.33\s+1\.00$/);
    const direct = text.split('\n').find((l) => l.startsWith('direct '))!;
    assert.match(direct, /-\s+-\s+-$/, 'no CPU figure for direct');
  });

  it('puts HTTPS and HTTP/2 rows in tables of their own, compared with nginx and Switchyard speaking the same protocol', () => {
    const tlsRow = (proxy: string, protocol: 'https' | 'h2', f: Figures): BenchRow => ({ ...row(proxy, 64, f), protocol });
    const rows = [
      ...ROWS,
      tlsRow('switchyard-tls', 'https', fig(20_000, 5, 50)),
      tlsRow('nginx-tls', 'https', fig(40_000, 2, 25)),
      tlsRow('switchyard-h2', 'h2', fig(10_000, 8, 100)),
    ];
    const text = renderRatioTable(rows, 1);
    assert.match(text, /^64 connections, nginx backends, HTTPS \(HTTP\/1\.1 over TLS\), medians of 1 round;/m);
    assert.match(text, /^64 connections, nginx backends, HTTP\/2 over TLS, medians of 1 round;/m);
    const lines = text.split('\n');
    // 20.0k req/s is 0.50 × nginx over HTTPS (not 0.27 × plain nginx) and 1.00 × Switchyard over HTTPS
    assert.match(
      lines.find((l) => l.startsWith('switchyard-tls '))!,
      /^switchyard-tls\s+20\.0k\s+0\.50\s+1\.00/,
    );
    // no nginx over h2 in this run: no ×ngx ratio, rather than one to plain nginx
    assert.match(
      lines.find((l) => l.startsWith('switchyard-h2 '))!,
      /^switchyard-h2\s+10\.0k\s+-\s+1\.00/,
    );
    const plain = text.slice(0, text.indexOf('HTTPS'));
    assert.ok(!plain.includes('switchyard-tls'), 'HTTPS rows are not in the plain table');
  });

  it('reads the issue 6 acceptance figures off the medians', () => {
    const checks = acceptanceChecks(ROWS, [64, 256]);
    const by = new Map(checks.map((c) => [c.name, c]));
    assert.equal(by.get('CPU/request vs bare undici loop (c64)')!.pass, true, '40/38 = 1.05 ≤ 1.1');
    assert.equal(by.get('CPU/request vs http-proxy + keep-alive agent (c64)')!.pass, true);
    assert.equal(by.get('CPU/request vs naive seed-style balancer (c64)')!.pass, true);
    assert.equal(by.get('req/s, 1 process vs nginx 1 worker (c64)')!.pass, true, '0.40 ≥ 0.35');
    assert.equal(by.get('req/s, --workers 2 vs nginx 2 workers (c64)')!.pass, null, 'not measured');
    assert.equal(by.get('p99 vs nginx (c64)')!.pass, true, '4/2 = 2 ≤ 2.5');
    assert.equal(by.get('zero errors in every Switchyard run')!.pass, false);
    assert.match(renderChecks(checks), /\[FAIL\] zero errors in every Switchyard run: 1 errors/);
  });

  it('bounds the 256-connection tail in every round, not the median: one slow round fails, the first round included', () => {
    const rounds = (proxy: string, p99s: number[], maxes: number[]): BenchRow => {
      const rs = p99s.map((p, i) => ({ ...fig(20_000, p, 40), maxMs: maxes[i]!, round: i + 1 }));
      return { proxy, label: proxy, backend: 'nginx', connections: 256, rounds: rs, median: medianFigures(rs) };
    };
    const nginx = rounds('nginx', [10, 12, 11], [20, 25, 22]);
    const good = [rounds('switchyard', [18, 20, 21], [60, 70, 80]), rounds('switchyard-undici', [25, 30, 33], [90, 90, 90]), nginx];
    const by = (rows: BenchRow[]) => new Map(acceptanceChecks(rows, [64, 256]).map((c) => [c.name, c]));
    const ok = by(good);
    assert.equal(ok.get('p99 every round, 1 process vs nginx (c256)')!.pass, true, '21/11 = 1.91 ≤ 2');
    assert.equal(ok.get('max every round, 1 process vs nginx (c256)')!.pass, true, '80/22 = 3.6 ≤ 5');
    assert.equal(ok.get('p99 every round, undici engine vs nginx (c256)')!.pass, true, '33/11 = 3.0 ≤ 3');
    // The median of [300, 20, 21] is 21: only a per-round check sees the slow first round.
    const slowFirst = by([rounds('switchyard', [300, 20, 21], [600, 70, 80]), nginx]);
    const p99 = slowFirst.get('p99 every round, 1 process vs nginx (c256)')!;
    assert.equal(p99.pass, false);
    assert.match(p99.detail, /worst 30\.00× in round 1 \(300 vs 10 ms\)/);
    assert.equal(slowFirst.get('max every round, 1 process vs nginx (c256)')!.pass, false, '600/20 = 30 > 5');
    assert.equal(slowFirst.get('p99 every round, undici engine vs nginx (c256)')!.pass, null, 'not measured');
    // Rounds pair by their number: a run missing in round 2 does not shift round 3 onto nginx's round 2.
    const gap = rounds('switchyard', [18, 20, 21], [60, 70, 80]);
    const shifted = { ...gap, rounds: [gap.rounds[0]!, gap.rounds[2]!] };
    assert.match(by([shifted, nginx]).get('p99 every round, 1 process vs nginx (c256)')!.detail, /each of 2 rounds: 1\.80 1\.91/);
    const table = renderRounds([rounds('switchyard', [300, 20, 21], [600, 70, 80]), nginx]);
    assert.match(table, /^256 connections, every round: p99 \/ max ms/m);
    assert.match(
      table.split('\n').find((l) => l.startsWith('switchyard'))!,
      /300 \/ 600\s+20\.0 \/ 70\.0\s+21\.0 \/ 80\.0$/,
    );
  });

  it('compares with a --baseline checkout when one ran (A/B, same run)', () => {
    const checks = new Map(acceptanceChecks([...ROWS, row('switchyard-baseline', 64, fig(30_000, 4, 36))], [64, 256]).map((c) => [c.name, c]));
    assert.equal(checks.get('CPU/request vs baseline (c64)')!.pass, false, '40/36 = 1.11 > 1.1');
    assert.equal(checks.get('p99 vs baseline (c64)')!.pass, true);
    assert.equal(
      acceptanceChecks(ROWS, [64, 256]).some((c) => c.name.includes('baseline')),
      false,
      'no baseline, no A/B rows',
    );
  });

  it('judges CPU against the baseline round by round: drift across the run cancels out, a steady cost does not', () => {
    const cpu = (proxy: string, values: number[]): BenchRow => {
      const rounds = values.map((v, i) => ({ ...fig(30_000, 4, v), round: i + 1 }));
      return { proxy, label: proxy, backend: 'nginx', connections: 64, rounds, median: medianFigures(rounds) };
    };
    const named = (rows: BenchRow[]) =>
      new Map(acceptanceChecks([...ROWS.filter((r) => r.proxy !== 'switchyard' || r.connections !== 64), ...rows], [64, 256]).map((c) => [c.name, c]));
    // The machine slows down in rounds 1-2 for whichever proxy runs then; paired, the two builds are equal.
    const drift = named([cpu('switchyard', [90, 80, 45, 46, 44]), cpu('switchyard-baseline', [88, 81, 44, 47, 44])]);
    const paired = drift.get('CPU/request vs baseline, median of same-round ratios (c64)')!;
    assert.equal(paired.pass, true, paired.detail);
    assert.match(paired.detail, /rounds 1\.02 0\.99 1\.02 0\.98 1\.00/);
    // 8 % more in every round is a regression, whatever the drift.
    const costly = named([cpu('switchyard', [95, 86, 48.6, 49.7, 47.5]), cpu('switchyard-baseline', [88, 80, 45, 46, 44])]);
    assert.equal(costly.get('CPU/request vs baseline, median of same-round ratios (c64)')!.pass, false);
    assert.equal(costly.get('CPU/request vs baseline, median of same-round ratios (c256)')!.pass, null, 'no baseline run at 256');
  });

  it('draws the three panels side by side with one bar per proxy and connection count', () => {
    const result = {
      startedAt: '2026-01-01T00:00:00.000Z',
      machine: { cpus: 2 },
      loadGenerator: 'wrk',
      settings: { rounds: 3, durationMs: 5000 },
      rows: ROWS,
    } as unknown as BenchResult;
    const svg = renderBenchChart(result);
    assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
    for (const t of ['req/s', 'p99 latency (ms)', 'proxy CPU per request (µs)']) assert.ok(svg.includes(t));
    // 8 rows x 3 panels, but direct has no CPU bar
    assert.equal((svg.match(/<rect x="\d+(\.\d+)?" y="\d+(\.\d+)?" width="[\d.]+" height="10"/g) ?? []).length, 8 * 3 - 1);
    assert.ok(svg.includes('n/a'));
  });
});
