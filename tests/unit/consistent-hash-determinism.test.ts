import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { ConsistentHash } from '../../balancer/strategies/consistent-hash.js';
import { hashString } from '../../balancer/strategies/hash.js';
import { candidates, ctx, type TestCandidate } from './support/lb-fixtures.js';

test('consistent hash: two independently built instances map every key alike given the same candidates (property)', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom(...'abcdefghij0123456789.:-') }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 50 }),
      (ids, keys) => {
        const sorted = [...ids].sort();
        const a = new ConsistentHash<TestCandidate>({ hashKey: 'header:x-key' });
        const b = new ConsistentHash<TestCandidate>({ hashKey: 'header:x-key' });
        const csA = sorted.map((id) => ({ id, weight: 1, inFlight: 0 }));
        const csB = sorted.map((id) => ({ id, weight: 1, inFlight: 0 }));
        for (const key of keys) {
          const c = ctx({ headers: { 'x-key': key } });
          assert.equal(a.pick(csA, c)!.id, b.pick(csB, c)!.id);
        }
      },
    ),
    { numRuns: 50 },
  );
});

test('the hash is fixed: known inputs give known values (any process, any platform)', () => {
  // Pinned values: a change here remaps every client of every deployed balancer.
  const golden = [2448022055, 3624641574, 940714420, 1760556860, 152196924];
  assert.deepEqual([hashString('a'), hashString('backend-1:8080#0'), hashString('10.0.0.1'), hashString('ü€'), hashString('a', 42)], golden);
  const script = `
    import { hashString } from './balancer/strategies/hash.ts';
    console.log(JSON.stringify([hashString('a'), hashString('backend-1:8080#0'), hashString('10.0.0.1'), hashString('ü€'), hashString('a', 42)]));
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../../', import.meta.url),
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out), golden);
});

test('a different process builds the same ring: same key -> same backend', () => {
  const ids = ['api-1:8080', 'api-2:8080', 'api-3:8080', 'api-4:8080'];
  const keys = Array.from({ length: 50 }, (_, i) => `client-${i}`);
  const here = new ConsistentHash<TestCandidate>({ hashKey: 'header:x-key' });
  const cs = ids.map((id) => ({ id, weight: 1, inFlight: 0 }));
  const local = keys.map((k) => here.pick(cs, ctx({ headers: { 'x-key': k } }))!.id);
  const script = `
    import { ConsistentHash } from './balancer/strategies/consistent-hash.ts';
    const s = new ConsistentHash({ hashKey: 'header:x-key' });
    const cs = ${JSON.stringify(ids)}.map((id) => ({ id, weight: 1, inFlight: 0 }));
    const keys = ${JSON.stringify(keys)};
    console.log(JSON.stringify(keys.map((k) => s.pick(cs, { clientIp: '', path: '/', header: (n) => (n === 'x-key' ? k : undefined) }).id)));
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../../', import.meta.url),
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out), local);
});

test('the seed changes the mapping', () => {
  const cs = candidates([1, 1, 1, 1, 1]);
  const a = new ConsistentHash<TestCandidate>({ hashKey: 'ip', seed: 0 });
  const b = new ConsistentHash<TestCandidate>({ hashKey: 'ip', seed: 7 });
  let differ = 0;
  for (let i = 0; i < 500; i++) if (a.pick(cs, ctx({ ip: `10.1.0.${i}` })) !== b.pick(cs, ctx({ ip: `10.1.0.${i}` }))) differ++;
  assert.ok(differ > 200, `only ${differ} of 500 keys differ`);
});
