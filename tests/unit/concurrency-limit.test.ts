import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GradientConcurrencyLimit } from '../../balancer/resilience/concurrency-limit.js';

/** Feeds one window (100 samples over 1 s) at a given RTT with the limit fully used. */
function window(g: GradientConcurrencyLimit, start: number, rtt: number, inFlight = g.limit): number {
  for (let i = 0; i < 100; i++) g.update(rtt, inFlight, start + i * 10);
  return g.update(rtt, inFlight, start + 1_000);
}

test('gradient limit rises while latency stays low and the limit is used', () => {
  const g = new GradientConcurrencyLimit({ initialLimit: 20, maxLimit: 200 });
  const limits: number[] = [];
  for (let w = 0; w < 60; w++) limits.push(window(g, w * 1_010, 5));
  assert.ok(limits.at(-1)! > 50, `limit after a minute: ${limits.at(-1)}`);
  for (let i = 1; i < limits.length; i++) assert.ok(limits[i]! >= limits[i - 1]!);
});

test('gradient limit falls when latency rises, and climbs again once it is back', () => {
  const g = new GradientConcurrencyLimit({ initialLimit: 100, maxLimit: 200 });
  let t = 0;
  for (let w = 0; w < 30; w++) window(g, (t += 1_010), 5);
  const before = g.limit;
  for (let w = 0; w < 10; w++) window(g, (t += 1_010), 50);
  const during = g.limit;
  assert.ok(during < before * 0.6, `limit ${before} -> ${during}`);
  for (let w = 0; w < 60; w++) window(g, (t += 1_010), 5);
  assert.ok(g.limit > during, `limit recovered to ${g.limit}`);
});

test('gradient limit holds while the app uses less than half of it', () => {
  const g = new GradientConcurrencyLimit({ initialLimit: 40 });
  for (let w = 0; w < 10; w++) window(g, w * 1_010, 5, 3);
  assert.equal(g.limit, 40);
  for (let w = 10; w < 20; w++) window(g, w * 1_010, 500, 3);
  assert.equal(g.limit, 40, 'app-limited: a latency rise does not move it either');
});

test('gradient limit stays within [min, max] for any samples (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 0, max: 200 }),
      fc.array(fc.tuple(fc.double({ min: 0, max: 5_000, noNaN: true }), fc.nat(300), fc.nat(500)), { maxLength: 500 }),
      (min, span, samples) => {
        const max = min + span;
        const g = new GradientConcurrencyLimit({ minLimit: min, maxLimit: max, initialLimit: min, minWindowSamples: 1, windowMs: 100 });
        let now = 0;
        for (const [rtt, inFlight, dt] of samples) {
          now += dt;
          const limit = g.update(rtt, inFlight, now);
          assert.ok(Number.isInteger(limit) && limit >= min && limit <= max, `${limit} outside [${min}, ${max}]`);
        }
      },
    ),
  );
});

test('gradient limit: a window closes only after windowMs and minWindowSamples', () => {
  const g = new GradientConcurrencyLimit({ initialLimit: 20, windowMs: 1_000, minWindowSamples: 5 });
  for (let i = 0; i < 4; i++) g.update(5, 20, i * 1_000);
  assert.equal(g.status().shortRttMs, undefined, 'four samples: still open');
  g.update(5, 20, 5_000);
  assert.equal(g.status().shortRttMs, 5);
});

test('gradient limit: bad options are named', () => {
  assert.throws(() => new GradientConcurrencyLimit({ minLimit: 10, maxLimit: 5 }), /maxLimit/);
  assert.throws(() => new GradientConcurrencyLimit({ initialLimit: 1, minLimit: 5 }), /initialLimit/);
  assert.throws(() => new GradientConcurrencyLimit({ smoothing: 0 }), /smoothing/);
});
