import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bar, barChart, formatCount } from '../../cli/load/bar-chart.js';
import { renderProgress } from '../../cli/load/progress-bar.js';
import type { LoadReport } from '../../cli/load/report.js';
import { escapeXml, niceStep, renderShareChart } from '../../cli/load/share-chart-svg.js';
import { renderSummary } from '../../cli/load/terminal-summary.js';

const REPORT: LoadReport = {
  tool: 'switchyard-load',
  version: 1,
  url: 'http://127.0.0.1:9090',
  method: 'GET',
  connections: 10,
  rate: null,
  limit: { kind: 'requests', requests: 3000, timeLimitMs: 300_000 },
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1000,
  requests: { sent: 3000, completed: 3000, perSecond: 3000 },
  latencyMs: { min: 0.1, mean: 1.2, stddev: 0.5, p50: 1.1, p90: 2.2, p99: 4.4, p999: 8.8, max: 12.5 },
  statusCodes: { '200': 2990, '503': 10 },
  errors: { total: 0, timeouts: 0, connection: 0, non2xx: 10 },
  bytes: { total: 300_000, perSecond: 300_000 },
  backends: [
    { id: 'a<1>', count: 1000, share: 0.333 },
    { id: 'b', count: 1500, share: 0.5 },
    { id: 'c', count: 500, share: 0.167 },
  ],
  timeline: {
    intervalMs: 500,
    points: [
      { startMs: 0, total: 1500, byBackend: { 'a<1>': 500, b: 750, c: 250 } },
      { startMs: 500, total: 0, byBackend: {} },
      { startMs: 1000, total: 1500, byBackend: { 'a<1>': 500, b: 750, c: 250 } },
    ],
  },
};

describe('load tool rendering', () => {
  it('draws bars in eighths of a cell', () => {
    assert.equal(bar(1, 1, 4), '████');
    assert.equal(bar(1, 2, 4), '██');
    assert.equal(bar(1, 16, 4), '▎');
    assert.equal(bar(0, 10, 4), '');
    assert.equal(bar(1, 1000, 4), '▏', 'a non-zero value is always visible');
  });

  it('aligns a bar chart and scales it to the largest row', () => {
    const lines = barChart(
      [
        { label: 'x', value: 50 },
        { label: 'long', value: 100, note: '66%' },
      ],
      { width: 10 },
    );
    assert.deepEqual(lines, ['  x     █████        50', '  long  ██████████  100  66%']);
    assert.equal(formatCount(1234567), '1,234,567');
  });

  it('summarises req/s, percentiles, status codes, errors and the per-backend chart', () => {
    const text = renderSummary(REPORT);
    assert.match(text, /3,000 completed in 1\.00 s: 3,000 req\/s/);
    assert.match(text, /p50 1\.10 ms {3}p90 2\.20 ms {3}p99 4\.40 ms {3}max 12\.5 ms/);
    assert.match(text, /200 × 2,990, 503 × 10/);
    assert.match(text, /Errors {5}none/);
    const rows = text.split('\n').filter((l) => /^ {2}\S+ {2}[█▏▎▍▌▋▊▉ ]+ {2}[\d,]+ {2}/.test(l));
    assert.equal(rows.length, 3);
    assert.match(text, /total 3,000/);
  });

  it('draws a progress line', () => {
    assert.equal(renderProgress({ fraction: 0.5, completed: 2500, errors: 1, elapsedMs: 500 }, 10), '[█████     ]  50%  2,500 done  5,000 req/s  1 errors');
  });

  it('renders the share chart as standalone SVG with one path per backend and escaped labels', () => {
    const svg = renderShareChart(REPORT);
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.equal((svg.match(/<path /g) ?? []).length, 3);
    assert.ok(svg.includes('a&lt;1&gt; 33.3% (1000)'));
    assert.ok(!svg.includes('a<1>'));
    assert.equal(escapeXml(`<&"'>`), '&lt;&amp;&quot;&apos;&gt;');
  });

  it('picks nice axis steps', () => {
    assert.deepEqual([0.13, 1, 3, 7, 45, 180].map(niceStep), [0.2, 1, 5, 10, 50, 200]);
  });
});
