import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPanic, panicSet } from '../../balancer/resilience/panic.js';

const table: Array<{ total: number; healthy: number; threshold: number; panic: boolean }> = [
  { total: 10, healthy: 10, threshold: 50, panic: false },
  { total: 10, healthy: 5, threshold: 50, panic: false },
  { total: 10, healthy: 4, threshold: 50, panic: true },
  { total: 2, healthy: 1, threshold: 50, panic: false },
  { total: 1, healthy: 0, threshold: 50, panic: true },
  { total: 3, healthy: 0, threshold: 0, panic: false },
  { total: 0, healthy: 0, threshold: 50, panic: false },
  { total: 4, healthy: 3, threshold: 100, panic: true },
];

for (const { total, healthy, threshold, panic } of table) {
  test(`panic: ${healthy} healthy of ${total} at ${threshold} % -> ${panic ? 'all' : 'healthy'}`, () => {
    assert.equal(isPanic(total, healthy, threshold), panic);
    const all = Array.from({ length: total }, (_, i) => i);
    const ok = all.slice(0, healthy);
    assert.equal(panicSet(all, ok, threshold), panic ? all : ok, 'one of the given arrays, not a copy');
  });
}

test('panic: a bad threshold is named', () => {
  assert.throws(() => isPanic(1, 1, 101), /panicThreshold/);
});
