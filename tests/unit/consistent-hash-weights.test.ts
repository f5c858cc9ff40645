import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsistentHash } from '../../balancer/strategies/consistent-hash.js';
import { HashRing } from '../../balancer/strategies/hash-ring.js';
import { candidates, ctx, type TestCandidate } from './support/lb-fixtures.js';

function shares(strategy: ConsistentHash<TestCandidate>, cs: readonly TestCandidate[], keys: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < keys; i++) {
    const id = strategy.pick(cs, ctx({ path: `/item/${i}` }))!.id;
    m.set(id, (m.get(id) ?? 0) + 1 / keys);
  }
  return m;
}

test('consistent hash: virtual nodes are proportional to weight, so 3:1 weights give about 3:1 keys', () => {
  const cs = candidates([3, 1]);
  const s = shares(new ConsistentHash<TestCandidate>({ hashKey: 'path' }), cs, 20_000);
  assert.ok(Math.abs(s.get('b000')! - 0.75) < 0.03, `b000 share ${s.get('b000')}`);
  const ring = HashRing.build(['a', 'b'], [3, 1], { vnodes: 1024, maxPoints: 1 << 17, seed: 0 });
  assert.equal(ring.size, 1024 + 341);
});

test('consistent hash: equal weights spread keys evenly (each of 5 within 3 points of 20 %)', () => {
  const cs = candidates([1, 1, 1, 1, 1]);
  const s = shares(new ConsistentHash<TestCandidate>({ hashKey: 'path' }), cs, 20_000);
  for (const c of cs) assert.ok(Math.abs(s.get(c.id)! - 0.2) < 0.03, `${c.id}: ${s.get(c.id)}`);
});

test('consistent hash: a weight change on the same array rebuilds the ring', () => {
  const cs = candidates([1, 1]);
  const strategy = new ConsistentHash<TestCandidate>({ hashKey: 'path' });
  const before = strategy.ringFor(cs);
  assert.equal(strategy.ringFor(cs), before, 'cached while nothing changes');
  cs[1]!.weight = 4;
  const after = strategy.ringFor(cs);
  assert.notEqual(after, before);
  const s = shares(strategy, cs, 10_000);
  assert.ok(Math.abs(s.get('b001')! - 0.8) < 0.04, `b001 share ${s.get('b001')}`);
});

test('consistent hash: the ring is capped at maxPoints', () => {
  const ids = Array.from({ length: 300 }, (_, i) => `n${i}`);
  const ring = HashRing.build(ids, new Array(300).fill(1), { vnodes: 1024, maxPoints: 131_072, seed: 0 });
  assert.ok(ring.size <= 131_072 && ring.size >= 131_072 - 300, `size ${ring.size}`);
});

test('consistent hash: a request without the key falls back to round robin', () => {
  const cs = candidates([1, 1, 1]);
  const strategy = new ConsistentHash<TestCandidate>({ hashKey: 'header:x-user' });
  const ids = Array.from({ length: 6 }, () => strategy.pick(cs, ctx())!.id);
  assert.deepEqual(ids, ['b000', 'b001', 'b002', 'b000', 'b001', 'b002']);
});

test('consistent hash: an excluded backend is skipped for the next one on the ring, others keep their keys', () => {
  const cs = candidates([1, 1, 1, 1]);
  const strategy = new ConsistentHash<TestCandidate>({ hashKey: 'path' });
  const fewer = new ConsistentHash<TestCandidate>({ hashKey: 'path' });
  for (let i = 0; i < 300; i++) {
    const c = ctx({ path: `/k/${i}` });
    const first = strategy.pick(cs, c)!;
    const retry = strategy.pick(cs, c, [first])!;
    assert.notEqual(retry, first);
    // Same answer as a ring built without the tried backend.
    assert.equal(
      retry,
      fewer.pick(
        cs.filter((x) => x !== first),
        c,
      ),
    );
  }
  assert.equal(strategy.pick(cs, ctx(), cs), undefined);
});

test('consistent hash rejects bad options naming them', () => {
  assert.throws(() => new ConsistentHash({ balanceFactor: 0.5 }), /balanceFactor/);
  assert.throws(() => new ConsistentHash({ vnodes: 0 }), /vnodes/);
  assert.throws(() => new ConsistentHash({ seed: -1 }), /hashSeed/);
  assert.throws(() => new ConsistentHash({ hashKey: 'nope' }), /hashKey/);
});

test('consistent hash: with weightOf reading the registry weight, a ramping weight (slow start) does not rebuild the ring', () => {
  const cs = candidates([1, 1, 1]).map((c) => ({ ...c, base: 1 }));
  type Ramped = (typeof cs)[number];
  const strategy = new ConsistentHash<Ramped>({ hashKey: 'path' }, (c) => c.base);
  const ring = strategy.ringFor(cs);
  cs[0]!.weight = 0.3; // slow start ramp
  assert.equal(strategy.ringFor(cs), ring);
  cs[0]!.base = 2; // a registry weight change does rebuild
  assert.notEqual(strategy.ringFor(cs), ring);
});
