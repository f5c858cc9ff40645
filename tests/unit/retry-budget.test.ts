import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RetryBudget } from '../../balancer/resilience/retry-budget.js';

test('retry budget: max(min concurrency, ratio x active requests)', () => {
  const b = new RetryBudget({ ratio: 0.2, minRetryConcurrency: 3 });
  assert.equal(b.limit(0), 3);
  assert.equal(b.limit(10), 3);
  assert.equal(b.limit(100), 20);
  assert.equal(b.limit(24), 4, 'whole retries, rounded down');
});

test('retry budget: with 100 active requests and all backends down, at most 20 retries run at once', () => {
  const b = new RetryBudget();
  let granted = 0;
  for (let i = 0; i < 100; i++) if (b.tryAcquire(100)) granted++;
  assert.equal(granted, 20);
  assert.equal(b.status().rejected, 80);
  b.release();
  assert.equal(b.tryAcquire(100), true, 'a finished retry frees a slot');
});

test('retry budget: retries in flight never exceed the budget at the time they were granted (property)', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.nat(10),
      fc.array(fc.oneof(fc.record({ op: fc.constant('retry' as const), active: fc.nat(500) }), fc.record({ op: fc.constant('done' as const) })), { maxLength: 500 }),
      (ratio, min, ops) => {
        const b = new RetryBudget({ ratio, minRetryConcurrency: min });
        let active = 0;
        let granted = 0;
        let rejected = 0;
        for (const o of ops) {
          if (o.op === 'retry') {
            if (b.tryAcquire(o.active)) {
              active++;
              granted++;
              assert.ok(active <= Math.max(min, ratio * o.active + 1e-9), `${active} retries with ${o.active} active`);
            } else {
              rejected++;
              assert.ok(active + 1 > Math.max(min, Math.floor(ratio * o.active + 1e-9)), 'rejected while under budget');
            }
          } else if (active > 0) {
            b.release();
            active--;
          }
          assert.equal(b.activeRetries, active);
        }
        assert.equal(b.status().granted, granted);
        assert.equal(b.status().rejected, rejected);
      },
    ),
  );
});

test('retry budget: bad options are named', () => {
  assert.throws(() => new RetryBudget({ ratio: 2 }), /retryBudgetRatio/);
  assert.throws(() => new RetryBudget({ minRetryConcurrency: -1 }), /retryBudgetMinConcurrency/);
});
