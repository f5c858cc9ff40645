import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeightFactors } from '../../balancer/strategies/weight-factors.js';

function feed(dw: WeightFactors, id: string, latency: number, from: number, to: number, ok = true): void {
  for (let t = from; t < to; t += 100) dw.record(id, latency, ok, t);
}

test('dynamic weights: a new backend counts only after its blackout; until then it gets the mean factor', () => {
  const dw = new WeightFactors({ blackoutMs: 10_000, latencySlackMs: 0 });
  const bs = [{ id: 'a' }, { id: 'b' }, { id: 'new' }];
  feed(dw, 'a', 10, 0, 20_000);
  feed(dw, 'b', 40, 0, 20_000);
  dw.recompute(bs, 20_000);
  assert.equal(dw.factorOf('a'), 1);
  assert.equal(dw.factorOf('b'), 0.25);
  assert.equal(dw.factorOf('new'), 0.625, 'never measured: the mean of a and b');

  feed(dw, 'new', 100, 20_000, 25_000); // slow, but still in blackout
  dw.recompute(bs, 25_000);
  assert.equal(dw.factorOf('new'), 0.625);
  assert.equal(dw.snapshot(['new'], 25_000)[0]!.phase, 'blackout');

  feed(dw, 'new', 100, 25_000, 30_000);
  dw.recompute(bs, 30_000);
  assert.equal(dw.snapshot(['new'], 30_000)[0]!.phase, 'measured');
  assert.equal(dw.factorOf('new'), 0.1);
});

test('dynamic weights: stale samples expire and the backend starts over in blackout', () => {
  const dw = new WeightFactors({ blackoutMs: 1_000, staleAfterMs: 60_000, latencySlackMs: 0 });
  const bs = [{ id: 'a' }, { id: 'b' }];
  feed(dw, 'a', 10, 0, 5_000);
  feed(dw, 'b', 50, 0, 5_000);
  dw.recompute(bs, 5_000);
  assert.equal(dw.factorOf('b'), 0.2);
  feed(dw, 'a', 10, 5_000, 70_000); // b gets nothing for over a minute
  dw.recompute(bs, 70_000);
  assert.equal(dw.snapshot(['b'], 70_000)[0]!.phase, 'unmeasured');
  assert.equal(dw.factorOf('b'), 1, 'mean of the measured (only a)');
});

test('dynamic weights: the failure ratio lowers the factor once the window has minRequests', () => {
  const dw = new WeightFactors({ blackoutMs: 0, minRequests: 10, latencySlackMs: 0 });
  const bs = [{ id: 'a' }];
  for (let i = 0; i < 8; i++) dw.record('a', 5, i % 2 === 0, 1000 + i);
  dw.recompute(bs, 1_100);
  assert.equal(dw.factorOf('a'), 1, 'eight requests: below minRequests');
  for (let i = 0; i < 12; i++) dw.record('a', 5, i % 2 === 0, 1_200 + i);
  dw.recompute(bs, 1_300);
  assert.equal(dw.factorOf('a'), 0.5);
  dw.recompute(bs, 20_000);
  assert.equal(dw.factorOf('a'), 1, 'failures aged out of the 10 s window');
});

test('dynamic weights: the latency EWMA halves a step change every half-life', () => {
  const dw = new WeightFactors({ blackoutMs: 0, latencyHalfLifeMs: 2_000 });
  const bs = [{ id: 'a' }];
  dw.record('a', 10, true, 0);
  dw.recompute(bs, 0);
  dw.record('a', 30, true, 1_000);
  dw.recompute(bs, 2_000);
  assert.equal(dw.snapshot(['a'], 2_000)[0]!.latencyEwmaMs, 20);
});

test('dynamic weights: latency of failed attempts does not count (a fast refusal is not a fast backend)', () => {
  const dw = new WeightFactors({ blackoutMs: 0 });
  dw.record('a', 40, true, 0);
  dw.record('a', 0.1, false, 10);
  dw.recompute([{ id: 'a' }], 100);
  assert.equal(dw.snapshot(['a'], 100)[0]!.latencyEwmaMs, 40);
});

test('dynamic weights reject bad options naming them', () => {
  assert.throws(() => new WeightFactors({ minWeightPercent: 0 }), /minWeightPercent/);
  assert.throws(() => new WeightFactors({ latencyHalfLifeMs: 0 }), /latencyHalfLifeMs/);
  assert.throws(() => new WeightFactors({ blackoutMs: -1 }), /blackoutMs/);
});
