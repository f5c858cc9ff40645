import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamicWeighted } from '../../balancer/strategies/dynamic-weighted.js';
import { WeightFactors } from '../../balancer/strategies/weight-factors.js';
import { candidates, EMPTY_CTX, seededRandom } from './support/lb-fixtures.js';

/**
 * Issue 4 acceptance 3, simulated: three backends at ~1 ms, 300 requests/s,
 * weights refreshed every second. At 20 s b001 gets +50 ms; at 40 s it is
 * removed. Its share must fall below 15 % within 10 s and come back within
 * 10 % of an equal share within 30 s, and no weight may go under the floor.
 */
test('dynamic-weighted: +50 ms on one of three backends takes it under 15 % within 10 s and back to a fair share within 30 s', () => {
  const cs = candidates([1, 1, 1]);
  const weights = new WeightFactors();
  const strategy = new DynamicWeighted(weights);
  const random = seededRandom(3);
  const floor = weights.options.minWeightPercent / 100;
  const slowFrom = 20_000;
  const slowUntil = 40_000;
  let second = new Map<string, number>();
  let fellBelowAt: number | undefined;
  let recoveredAt: number | undefined;

  for (let now = 0; now <= 75_000; now += 10) {
    for (let r = 0; r < 3; r++) {
      const c = strategy.pick(cs, EMPTY_CTX)!;
      const slow = c.id === 'b001' && now >= slowFrom && now < slowUntil;
      strategy.observe(c.id, 0.8 + random() * 0.5 + (slow ? 50 : 0), true, now);
      second.set(c.id, (second.get(c.id) ?? 0) + 1);
    }
    if (now % 1000 === 0) {
      strategy.refresh(cs, now);
      for (const c of cs) assert.ok(weights.weightOf(c.id, c.weight) >= floor * c.weight);
      const share = (second.get('b001') ?? 0) / 300;
      second = new Map();
      if (now > slowFrom && now <= slowFrom + 10_000 && fellBelowAt === undefined && share < 0.15) fellBelowAt = now;
      if (now > slowUntil && recoveredAt === undefined && Math.abs(share - 1 / 3) <= 1 / 30) recoveredAt = now;
      if (fellBelowAt !== undefined && now > fellBelowAt && now < slowUntil) assert.ok(share < 0.15, `share ${share} at ${now}`);
    }
  }
  assert.ok(fellBelowAt !== undefined, 'share never fell below 15 % within 10 s');
  assert.ok(recoveredAt !== undefined && recoveredAt - slowUntil <= 30_000, `recovered at ${recoveredAt}`);
  assert.ok(fellBelowAt - slowFrom <= 5_000, `fell below 15 % only ${fellBelowAt - slowFrom} ms after`);
});

test('dynamic weights: identical backends with latency noise stay within a few percent of equal', () => {
  const weights = new WeightFactors({ blackoutMs: 0 });
  const random = seededRandom(11);
  const bs = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
  for (let now = 0; now <= 30_000; now += 100) {
    for (const b of bs) weights.record(b.id, 1 + random() * 0.8, true, now);
    if (now % 1000 === 0) weights.recompute(bs, now);
  }
  for (const b of bs) assert.ok(weights.factorOf(b.id) > 0.9, `${b.id}: ${weights.factorOf(b.id)}`);
});
