import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WeightedRoundRobin } from '../../balancer/strategies/weighted-round-robin.js';
import { candidates, EMPTY_CTX } from './support/lb-fixtures.js';

/** Picks at most this many more than a fair share after a weight change, at any point. */
const BURST_BOUND = 2;

test('weighted round robin: after any weight change no backend runs ahead of its new share by more than 2 picks (property)', () => {
  const weight = fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 1000 }));
  fc.assert(
    fc.property(fc.array(fc.tuple(weight, weight), { minLength: 1, maxLength: 8 }), fc.nat(2000), (pairs, warmup) => {
      const cs = candidates(pairs.map(([before]) => before));
      const wrr = new WeightedRoundRobin();
      for (let i = 0; i < warmup; i++) wrr.pick(cs, EMPTY_CTX);
      pairs.forEach(([, after], i) => (cs[i]!.weight = after));
      const total = cs.reduce((a, c) => a + c.weight, 0);
      const counts = new Array<number>(cs.length).fill(0);
      const horizon = Math.min(2 * total, 2500);
      for (let k = 1; k <= horizon; k++) {
        const c = wrr.pick(cs, EMPTY_CTX)!;
        counts[cs.indexOf(c)]!++;
        cs.forEach((d, i) =>
          assert.ok(counts[i]! <= (k * d.weight) / total + BURST_BOUND, `backend ${i} got ${counts[i]} of ${k} with weight ${d.weight}/${total}`),
        );
      }
    }),
    { numRuns: 200 },
  );
});

test('weighted round robin: a weight change from 1000:1 to 1:1 alternates at once', () => {
  const cs = candidates([1000, 1]);
  const wrr = new WeightedRoundRobin();
  for (let i = 0; i < 500; i++) wrr.pick(cs, EMPTY_CTX);
  cs[0]!.weight = 1;
  const next = Array.from({ length: 6 }, () => wrr.pick(cs, EMPTY_CTX)!.id);
  for (let i = 0; i + 2 < next.length; i++) assert.ok(!(next[i] === next[i + 1] && next[i] === next[i + 2]), `no triple run: ${next.join(',')}`);
});

test('weighted round robin: raising one weight takes effect at once, still interleaved', () => {
  const cs = candidates([1, 1, 1]);
  const wrr = new WeightedRoundRobin();
  for (let i = 0; i < 10; i++) wrr.pick(cs, EMPTY_CTX);
  cs[2]!.weight = 8;
  const run = Array.from({ length: 20 }, () => wrr.pick(cs, EMPTY_CTX)!.id);
  const raised = run.filter((id) => id === 'b002').length;
  assert.ok(raised >= 15 && raised <= 17, `b002 got ${raised} of 20: ${run.join(',')}`);
  assert.ok(run.includes('b000') && run.includes('b001'), run.join(','));
});
