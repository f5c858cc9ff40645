import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SlowStart, slowStartFactor } from '../../balancer/resilience/slow-start.js';

const table: Array<{ elapsed: number; aggression: number; min: number; expected: number }> = [
  { elapsed: 0, aggression: 1, min: 10, expected: 0.1 },
  { elapsed: 5_000, aggression: 1, min: 10, expected: 0.5 },
  { elapsed: 500, aggression: 1, min: 10, expected: 0.1 },
  { elapsed: 2_500, aggression: 2, min: 10, expected: 0.5 },
  { elapsed: 2_500, aggression: 0.5, min: 10, expected: 0.1 },
  { elapsed: 5_000, aggression: 0.5, min: 0, expected: 0.25 },
  { elapsed: 10_000, aggression: 1, min: 10, expected: 1 },
  { elapsed: 99_000, aggression: 3, min: 10, expected: 1 },
];

for (const { elapsed, aggression, min, expected } of table) {
  test(`slow start over 10 s: ${elapsed} ms, aggression ${aggression}, min ${min} % -> ${expected}`, () => {
    assert.equal(slowStartFactor(elapsed, { windowMs: 10_000, aggression, minWeightPercent: min }), expected);
  });
}

test('slow start is off with a zero window', () => {
  assert.equal(new SlowStart().factor(0, 0), 1);
  assert.equal(new SlowStart().isRamping(0, 0), false);
});

test('slow start: the factor never decreases with time and stays in [min, 1] (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 120_000 }),
      fc.double({ min: 0.1, max: 10, noNaN: true }),
      fc.integer({ min: 0, max: 100 }),
      fc.nat(200_000),
      fc.nat(200_000),
      (windowMs, aggression, min, t1, t2) => {
        const s = new SlowStart({ windowMs, aggression, minWeightPercent: min });
        const [a, b] = t1 <= t2 ? [t1, t2] : [t2, t1];
        assert.ok(s.factor(0, a) <= s.factor(0, b));
        assert.ok(s.factor(0, a) >= min / 100 && s.factor(0, b) <= 1);
        assert.equal(s.weight(4, 0, b), 4 * s.factor(0, b));
      },
    ),
  );
});

test('slow start: bad options are named', () => {
  assert.throws(() => new SlowStart({ aggression: 0 }), /slowStartAggression/);
  assert.throws(() => new SlowStart({ windowMs: -1 }), /slowStartWindowMs/);
});
