import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RoundRobin } from '../../balancer/strategies/round-robin.js';
import { candidates, countPicks, EMPTY_CTX } from './support/lb-fixtures.js';

test('round robin visits candidates in order', () => {
  const cs = candidates([1, 1, 1]);
  const rr = new RoundRobin();
  assert.deepEqual(
    Array.from({ length: 7 }, () => rr.pick(cs, EMPTY_CTX)?.id),
    ['b000', 'b001', 'b002', 'b000', 'b001', 'b002', 'b000'],
  );
});

test('round robin: k full cycles give every candidate exactly k picks, from any starting point (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 20 }), fc.nat(200), (n, k, warmup) => {
      const cs = candidates(Array.from({ length: n }, () => 1));
      const rr = new RoundRobin();
      for (let i = 0; i < warmup; i++) rr.pick(cs, EMPTY_CTX);
      const counts = countPicks(() => rr.pick(cs, EMPTY_CTX), k * n);
      for (const c of cs) assert.equal(counts.get(c.id), k);
    }),
  );
});

test('round robin returns undefined for no candidates', () => {
  assert.equal(new RoundRobin().pick([], EMPTY_CTX), undefined);
});
