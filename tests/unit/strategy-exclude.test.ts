import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createStrategy, STRATEGY_NAMES } from '../../balancer/strategies/index.js';
import { candidates, ctx, seededRandom, type TestCandidate } from './support/lb-fixtures.js';

test('every strategy never returns an excluded candidate, and returns one whenever any is left (property)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...STRATEGY_NAMES),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      (name, sticky, weights, excludedFlags, seed) => {
        const cs: TestCandidate[] = candidates(weights);
        const exclude = cs.filter((_, i) => excludedFlags[i]);
        const s = createStrategy<TestCandidate>(name, {
          random: seededRandom(seed),
          hashKey: 'header:x-k',
          hashBalanceFactor: 1.25,
          sticky: sticky ? { cookieName: 'lb', secret: 'sixteen-chars-at-least' } : undefined,
        });
        for (let i = 0; i < 20; i++) {
          const req = ctx({ headers: { 'x-k': `k${i}`, cookie: `lb=${i}` } });
          const c = s.pick(cs, req, exclude);
          if (exclude.length === cs.length) assert.equal(c, undefined);
          else assert.ok(c !== undefined && !exclude.includes(c), `${name} picked ${c?.id}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});
