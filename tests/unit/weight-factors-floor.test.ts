import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WeightFactors } from '../../balancer/strategies/weight-factors.js';

const event = fc.oneof(
  fc.record({
    kind: fc.constant('sample' as const),
    backend: fc.nat(5),
    latency: fc.oneof(fc.double({ min: 0, max: 10_000, noNaN: true }), fc.constant(Number.NaN)),
    ok: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60_000 }) }),
  fc.record({ kind: fc.constant('recompute' as const) }),
);

test('dynamic weights: no backend ever gets less than the floor, nor more than its base weight (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 0, max: 20_000 }),
      fc.array(event, { maxLength: 300 }),
      fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 6, maxLength: 6 }),
      (minWeightPercent, blackoutMs, events, baseWeights) => {
        const dw = new WeightFactors({ minWeightPercent, blackoutMs });
        const backends = baseWeights.map((weight, i) => ({ id: `b${i}`, weight }));
        let now = 0;
        const check = (): void => {
          for (const b of backends) {
            const w = dw.weightOf(b.id, b.weight);
            assert.ok(w >= (b.weight * minWeightPercent) / 100 - 1e-9, `${b.id}: ${w} below floor of ${b.weight}`);
            assert.ok(w <= b.weight + 1e-9, `${b.id}: ${w} above base ${b.weight}`);
          }
        };
        for (const e of events) {
          if (e.kind === 'sample') dw.record(`b${e.backend}`, e.latency, e.ok, now);
          else if (e.kind === 'advance') now += e.ms;
          else dw.recompute(backends, now);
          check();
        }
        dw.recompute(backends, now);
        check();
      },
    ),
  );
});

test('dynamic weights: a backend that fails every request still keeps the floor', () => {
  const dw = new WeightFactors({ blackoutMs: 0, minWeightPercent: 10 });
  const bs = [{ id: 'a' }, { id: 'b' }];
  for (let t = 0; t < 20_000; t += 100) {
    dw.record('a', 1, true, t);
    dw.record('b', 1, false, t);
    if (t % 1000 === 0) dw.recompute(bs, t);
  }
  dw.recompute(bs, 20_000);
  assert.equal(dw.factorOf('a'), 1);
  assert.equal(dw.factorOf('b'), 0.1);
});
