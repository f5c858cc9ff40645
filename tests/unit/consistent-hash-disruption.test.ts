import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConsistentHash } from '../../balancer/strategies/consistent-hash.js';
import { candidates, ctx, type TestCandidate } from './support/lb-fixtures.js';
import type { PickContext } from '../../balancer/strategies/strategy.js';

const KEYS: PickContext[] = Array.from({ length: 10_000 }, (_, i) => ctx({ ip: `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}` }));

function mapping(strategy: ConsistentHash<TestCandidate>, cs: readonly TestCandidate[]): string[] {
  return KEYS.map((k) => strategy.pick(cs, k)!.id);
}

function moved(a: readonly string[], b: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n / a.length;
}

test('consistent hash: removing or adding one of N backends moves at most 1/N + 5 % of 10,000 keys (property, N 2..50)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 50 }),
      fc.nat(),
      fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789') }),
      (n, pick, prefix) => {
        const all = candidates(
          Array.from({ length: n }, () => 1),
          `${prefix}-`,
        );
        const gone = pick % n;
        const fewer = all.filter((_, i) => i !== gone);
        const strategy = new ConsistentHash<TestCandidate>({ hashKey: 'ip' });
        const before = mapping(strategy, all);
        const after = mapping(strategy, fewer);
        const share = moved(before, after);
        // Removing moves only the removed backend's keys; adding it back is the same move in reverse.
        assert.ok(share <= 1 / n + 0.05, `removing 1 of ${n} moved ${(share * 100).toFixed(2)} %`);
        before.forEach((id, i) => {
          if (id !== all[gone]!.id) assert.equal(after[i], id, 'a key not on the removed backend moved');
        });
        const readded = mapping(strategy, all);
        assert.deepEqual(readded, before);
      },
    ),
    { numRuns: 60 },
  );
});

test('consistent hash: adding one backend to N moves at most 1/N + 5 % and only onto the new one (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 50 }), fc.nat(1_000_000), (n, salt) => {
      const base = candidates(
        Array.from({ length: n }, () => 1),
        `s${salt}-`,
      );
      const added: TestCandidate = { id: `s${salt}-new`, weight: 1, inFlight: 0 };
      const grown = [...base, added].sort((a, b) => (a.id < b.id ? -1 : 1));
      const strategy = new ConsistentHash<TestCandidate>({ hashKey: 'ip' });
      const before = mapping(strategy, base);
      const after = mapping(strategy, grown);
      assert.ok(moved(before, after) <= 1 / n + 0.05);
      after.forEach((id, i) => assert.ok(id === before[i] || id === added.id));
    }),
    { numRuns: 40 },
  );
});
