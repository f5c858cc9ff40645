import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConsistentHash } from '../../balancer/strategies/consistent-hash.js';
import { candidates, ctx, seededRandom, type TestCandidate } from './support/lb-fixtures.js';

function bound(c: TestCandidate, cs: readonly TestCandidate[], factor: number, totalBefore: number): number {
  const totalWeight = cs.reduce((a, x) => a + x.weight, 0);
  return Math.ceil((factor * (totalBefore + 1) * c.weight) / totalWeight);
}

test('consistent hash with a balance factor: no backend ever exceeds ceil(c x average in-flight) under skewed keys (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 20 }),
      fc.constantFrom(1, 1.1, 1.25, 1.5, 2),
      fc.boolean(),
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      (n, factor, weighted, seed) => {
        const random = seededRandom(seed);
        const cs = candidates(Array.from({ length: n }, (_, i) => (weighted ? 1 + (i % 4) : 1)));
        const strategy = new ConsistentHash<TestCandidate>({ hashKey: 'header:x-user', balanceFactor: factor });
        const open: TestCandidate[] = [];
        for (let step = 0; step < 2000; step++) {
          // Zipf-like skew: a few keys carry most requests.
          const key = `user-${Math.floor(1 / (random() + 0.001))}`;
          const total = cs.reduce((a, c) => a + c.inFlight, 0);
          const chosen = strategy.pick(cs, ctx({ headers: { 'x-user': key } }))!;
          chosen.inFlight++;
          assert.ok(chosen.inFlight <= bound(chosen, cs, factor, total), `${chosen.id} at ${chosen.inFlight} > bound ${bound(chosen, cs, factor, total)}`);
          open.push(chosen);
          // Requests finish in random order, holding the load at a few dozen in flight.
          while (open.length > 0 && random() < open.length / 40) {
            const done = open.splice(Math.floor(random() * open.length), 1)[0]!;
            done.inFlight--;
          }
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('consistent hash with a balance factor still keeps a key on its backend while under the bound', () => {
  const cs = candidates([1, 1, 1, 1]);
  const plain = new ConsistentHash<TestCandidate>({ hashKey: 'ip' });
  const bounded = new ConsistentHash<TestCandidate>({ hashKey: 'ip', balanceFactor: 1.25 });
  for (let i = 0; i < 200; i++) {
    const c = ctx({ ip: `192.168.0.${i}` });
    assert.equal(bounded.pick(cs, c), plain.pick(cs, c));
  }
});

test('consistent hash with a balance factor spills a hot key to the next backend on the ring', () => {
  const cs = candidates([1, 1, 1, 1]);
  const strategy = new ConsistentHash<TestCandidate>({ hashKey: 'ip', balanceFactor: 1.25 });
  const hot = ctx({ ip: '203.0.113.7' });
  const home = strategy.pick(cs, hot)!;
  home.inFlight = 10;
  for (const c of cs) if (c !== home) c.inFlight = 2;
  // total 16: bound = ceil(1.25 x 17 / 4) = 6, the home backend is over it.
  const spilled = strategy.pick(cs, hot)!;
  assert.notEqual(spilled, home);
  home.inFlight = 3; // total 9: bound = ceil(1.25 x 10 / 4) = 4
  assert.equal(strategy.pick(cs, hot), home);
});
