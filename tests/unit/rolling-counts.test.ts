import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RollingCounts } from '../../balancer/resilience/rolling-counts.js';

test('rolling counts: counts inside the window, forgets slots that slid out', () => {
  const w = new RollingCounts(10_000, 10);
  w.add(true, 0);
  w.add(false, 500);
  w.add(false, 9_999);
  assert.deepEqual([w.total(9_999), w.failures(9_999)], [3, 2]);
  assert.deepEqual([w.total(10_000), w.failures(10_000)], [1, 1], 'the first second slid out');
  assert.equal(w.failureRatio(10_000), 1);
  assert.equal(w.total(30_000), 0);
  assert.equal(w.failureRatio(30_000), 0);
});

test('rolling counts agree with a list of timestamped samples (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(3_000), fc.boolean()), { maxLength: 200 }), (steps) => {
      const w = new RollingCounts(1_000, 4);
      const all: Array<{ at: number; ok: boolean }> = [];
      let now = 0;
      for (const [dt, ok] of steps) {
        now += dt;
        w.add(ok, now);
        all.push({ at: now, ok });
        const inWindow = all.filter((s) => Math.floor(s.at / 250) > Math.floor(now / 250) - 4);
        assert.equal(w.total(now), inWindow.length);
        assert.equal(w.failures(now), inWindow.filter((s) => !s.ok).length);
      }
    }),
  );
});
