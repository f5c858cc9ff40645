import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LeastRequest } from '../../balancer/strategies/least-request.js';
import { candidates, EMPTY_CTX, seededRandom, type TestCandidate } from './support/lb-fixtures.js';

/** A random source that replays fixed values. */
function replay(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

const table: Array<{ desc: string; weights: number[]; inFlight: number[]; random: number[]; expected: string }> = [
  { desc: 'the less loaded of the two sampled wins', weights: [1, 1, 1], inFlight: [5, 0, 9], random: [0, 0], expected: 'b001' },
  {
    desc: 'samples are distinct (1, then 1 -> 2); the idle unsampled b000 is not seen',
    weights: [1, 1, 1],
    inFlight: [0, 3, 2],
    random: [0.5, 0.5],
    expected: 'b002',
  },
  { desc: 'a tie goes to the first sampled', weights: [1, 1], inFlight: [2, 2], random: [0.9, 0], expected: 'b001' },
  { desc: 'weight scales the load: (4+1)/4 beats (1+1)/1', weights: [4, 1], inFlight: [4, 1], random: [0.9, 0], expected: 'b000' },
  { desc: 'a zero weight never wins', weights: [0, 1], inFlight: [0, 50], random: [0, 0], expected: 'b001' },
  { desc: 'one candidate is always picked', weights: [1], inFlight: [100], random: [0.5], expected: 'b000' },
];

for (const { desc, weights, inFlight, random, expected } of table) {
  test(`least request: ${desc}`, () => {
    const cs = candidates(weights);
    cs.forEach((c, i) => (c.inFlight = inFlight[i]!));
    assert.equal(new LeastRequest({ random: replay(...random) }).pick(cs, EMPTY_CTX)?.id, expected);
  });
}

test('least request never picks a candidate more loaded (per weight) than another it sampled (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 10 }), fc.nat(50)), { minLength: 2, maxLength: 20 }),
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      (specs, seed) => {
        const cs = candidates(specs.map(([w]) => w));
        cs.forEach((c, i) => (c.inFlight = specs[i]![1]));
        const draws: number[] = [];
        const rnd = seededRandom(seed);
        const strategy = new LeastRequest<TestCandidate>({
          random: () => {
            const r = rnd();
            draws.push(r);
            return r;
          },
        });
        const chosen = strategy.pick(cs, EMPTY_CTX)!;
        const n = cs.length;
        const a = Math.floor(draws[0]! * n);
        let b = Math.floor(draws[1]! * (n - 1));
        if (b >= a) b++;
        const cost = (c: TestCandidate): number => (c.inFlight + 1) / c.weight;
        assert.ok(chosen === cs[a] || chosen === cs[b]);
        assert.ok(cost(chosen) <= Math.min(cost(cs[a]!), cost(cs[b]!)));
      },
    ),
  );
});

test('least request sends fewer requests to a backend that holds requests open', () => {
  // Three backends; b002 holds each request 10x longer. Simulate 3000 arrivals.
  const cs = candidates([1, 1, 1]);
  const strategy = new LeastRequest<TestCandidate>({ random: seededRandom(7) });
  const finishes: Array<{ at: number; c: TestCandidate }> = [];
  const counts = new Map<string, number>();
  for (let t = 0; t < 3000; t++) {
    for (let i = finishes.length - 1; i >= 0; i--) {
      if (finishes[i]!.at <= t) {
        finishes[i]!.c.inFlight--;
        finishes.splice(i, 1);
      }
    }
    const c = strategy.pick(cs, EMPTY_CTX)!;
    c.inFlight++;
    counts.set(c.id, (counts.get(c.id) ?? 0) + 1);
    finishes.push({ at: t + (c.id === 'b002' ? 20 : 2), c });
  }
  const slow = counts.get('b002')!;
  assert.ok(slow < counts.get('b000')! / 2 && slow < counts.get('b001')! / 2, JSON.stringify([...counts]));
});

test('least request rejects bad options naming them', () => {
  assert.throws(() => new LeastRequest({ choiceCount: 1 }), /choiceCount/);
  assert.throws(() => new LeastRequest({ activeRequestBias: -1 }), /activeRequestBias/);
});

test('least request with choiceCount 3 samples three', () => {
  const cs = candidates([1, 1, 1, 1]);
  cs.forEach((c, i) => (c.inFlight = [9, 9, 9, 0][i]!));
  // a = 0, b = 1 (distinct), third = index 3.
  assert.equal(new LeastRequest({ choiceCount: 3, random: replay(0, 0, 0.9) }).pick(cs, EMPTY_CTX)?.id, 'b003');
});
