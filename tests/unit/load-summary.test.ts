import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendFromRawHeaders, createLatencyHistogram, LoadRecorder, NO_BACKEND } from '../../cli/load/recorder.js';
import { LoadReportSchema } from '../../cli/load/report.js';
import { backendShares, buildReport, latencySummary, mergeTimeline, timelineInterval } from '../../cli/load/summary.js';

describe('load summary maths', () => {
  it('reads latency percentiles from the HDR histogram in ms at microsecond resolution', () => {
    const h = createLatencyHistogram();
    for (let us = 1; us <= 1000; us++) h.recordValue(us * 10); // 10 µs .. 10 ms, uniform
    const s = latencySummary(h);
    assert.equal(s.min, 0.01);
    assert.equal(s.max, 10);
    assert.ok(Math.abs(s.p50 - 5) <= 0.01, `p50 ${s.p50}`);
    assert.ok(Math.abs(s.p90 - 9) <= 0.01, `p90 ${s.p90}`);
    assert.ok(Math.abs(s.p99 - 9.9) <= 0.01, `p99 ${s.p99}`);
    assert.ok(Math.abs(s.p999 - 9.99) <= 0.01, `p99.9 ${s.p999}`);
    assert.ok(Math.abs(s.mean - 5.005) <= 0.01, `mean ${s.mean}`);
    h.destroy();
  });

  it('gives zeros for an empty histogram', () => {
    const h = createLatencyHistogram();
    assert.deepEqual(latencySummary(h), { min: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
    h.destroy();
  });

  it('sorts backends naturally and gives shares of the total', () => {
    const shares = backendShares(
      new Map([
        ['backend-10', 1],
        ['backend-2', 2],
        ['backend-1', 1],
      ]),
    );
    assert.deepEqual(shares, [
      { id: 'backend-1', count: 1, share: 0.25 },
      { id: 'backend-2', count: 2, share: 0.5 },
      { id: 'backend-10', count: 1, share: 0.25 },
    ]);
    assert.deepEqual(backendShares(new Map()), []);
  });

  it('picks the smallest nice interval that fits the point budget', () => {
    const table: [number, number, number][] = [
      [1_500, 60, 100],
      [6_000, 60, 100],
      [6_001, 60, 200],
      [10_000, 60, 200],
      [60_000, 60, 1000],
      [600_000, 60, 10_000],
    ];
    for (const [duration, max, want] of table) assert.equal(timelineInterval(duration, max), want, `${duration} ms`);
  });

  it('merges fine timeline slots into coarser points, keeping empty intervals', () => {
    const slots = [
      new Map([['a', 1]]),
      new Map([['b', 2]]),
      new Map<string, number>(),
      new Map(),
      new Map([
        ['a', 3],
        ['b', 1],
      ]),
    ];
    assert.deepEqual(mergeTimeline(slots, 100, 200), [
      { startMs: 0, total: 3, byBackend: { a: 1, b: 2 } },
      { startMs: 200, total: 0, byBackend: {} },
      { startMs: 400, total: 4, byBackend: { a: 3, b: 1 } },
    ]);
  });

  it('finds X-Backend in raw headers whatever its case', () => {
    assert.equal(backendFromRawHeaders(['Content-Type', 'text/plain', 'X-BACKEND', 'b2']), 'b2');
    assert.equal(backendFromRawHeaders(['x-backend-id', 'no', 'x-backend', 'b1']), 'b1');
    assert.equal(backendFromRawHeaders(['content-length', '0']), undefined);
  });

  it('builds a report that matches the documented shape, with backend counts summing to completed responses', () => {
    const rec = new LoadRecorder();
    for (let i = 0; i < 300; i++) rec.response(i % 50 === 0 ? 502 : 200, 100, 1 + (i % 7) / 10, i % 50 === 0 ? undefined : `b${i % 3}`, i * 10);
    rec.timeout();
    rec.connectionError();
    const report = buildReport(
      {
        url: 'http://127.0.0.1:1/',
        method: 'GET',
        connections: 4,
        rate: undefined,
        limit: { kind: 'requests', requests: 300, timeLimitMs: 60_000 },
        startedAt: new Date(0),
        durationMs: 3000,
        sent: 302,
      },
      rec,
    );
    rec.close();
    LoadReportSchema.parse(report);
    assert.equal(report.requests.completed, 300);
    assert.equal(report.requests.perSecond, 100);
    assert.equal(
      report.backends.reduce((s, b) => s + b.count, 0),
      300,
    );
    assert.ok(report.backends.some((b) => b.id === NO_BACKEND && b.count === 6));
    assert.deepEqual(report.statusCodes, { '200': 294, '502': 6 });
    assert.deepEqual(report.errors, { total: 2, timeouts: 1, connection: 1, non2xx: 6 });
    assert.equal(report.timeline.intervalMs, 100);
    assert.equal(
      report.timeline.points.reduce((s, p) => s + p.total, 0),
      300,
    );
    assert.equal(report.rate, null);
  });
});
