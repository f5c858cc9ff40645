import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WeightedRoundRobin } from '../../balancer/strategies/weighted-round-robin.js';
import { candidates, countPicks, EMPTY_CTX } from './support/lb-fixtures.js';

const sequences: Array<{ desc: string; weights: number[]; expected: string }> = [
  { desc: '3:1 interleaves', weights: [3, 1], expected: 'aaba' },
  { desc: '5:1:1 (the nginx example)', weights: [5, 1, 1], expected: 'aabacaa' },
  { desc: 'equal weights are round robin', weights: [2, 2, 2], expected: 'abcabc' },
  { desc: '1:2:3', weights: [1, 2, 3], expected: 'cbacbc' },
];

for (const { desc, weights, expected } of sequences) {
  test(`weighted round robin sequence: ${desc}`, () => {
    const cs = candidates(weights);
    const wrr = new WeightedRoundRobin();
    const letters = Array.from({ length: expected.length }, () => {
      const c = wrr.pick(cs, EMPTY_CTX)!;
      return String.fromCharCode(97 + cs.indexOf(c));
    }).join('');
    assert.equal(letters, expected);
  });
}

test('weighted round robin: 3:1 weights give 3:1 traffic', () => {
  const cs = candidates([3, 1]);
  const wrr = new WeightedRoundRobin();
  const counts = countPicks(() => wrr.pick(cs, EMPTY_CTX), 4000);
  assert.equal(counts.get('b000'), 3000);
  assert.equal(counts.get('b001'), 1000);
});

test('weighted round robin: any W consecutive picks give exact shares for any integer weights (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 12 }),
      fc.nat(500),
      fc.integer({ min: 1, max: 3 }),
      (weights, warmup, cycles) => {
        const cs = candidates(weights);
        const wrr = new WeightedRoundRobin();
        for (let i = 0; i < warmup; i++) wrr.pick(cs, EMPTY_CTX);
        const total = weights.reduce((a, b) => a + b, 0);
        const counts = countPicks(() => wrr.pick(cs, EMPTY_CTX), cycles * total);
        cs.forEach((c, i) => assert.equal(counts.get(c.id) ?? 0, cycles * weights[i]!, `candidate ${i} of ${weights.join(':')}`));
      },
    ),
  );
});

test('weighted round robin keeps state per backend id when the routable array changes', () => {
  const cs = candidates([3, 1, 1]);
  const wrr = new WeightedRoundRobin();
  for (let i = 0; i < 7; i++) wrr.pick(cs, EMPTY_CTX);
  const without = cs.slice(0, 2); // b002 left: the others carry on from where they were
  const counts = countPicks(() => wrr.pick(without, EMPTY_CTX), 400);
  assert.ok(Math.abs(counts.get('b000')! - 300) <= 1, `b000: ${counts.get('b000')}`);
  assert.ok(Math.abs(counts.get('b001')! - 100) <= 1, `b001: ${counts.get('b001')}`);
});

test('weighted round robin: zero weights are never picked unless all are zero', () => {
  const cs = candidates([0, 2, 0]);
  const wrr = new WeightedRoundRobin();
  assert.deepEqual([...countPicks(() => wrr.pick(cs, EMPTY_CTX), 10)], [['b001', 10]]);
  const zeros = candidates([0, 0]);
  const counts = countPicks(() => wrr.pick(zeros, EMPTY_CTX), 10);
  assert.equal(counts.get('b000'), 5);
  assert.equal(counts.get('b001'), 5);
});
