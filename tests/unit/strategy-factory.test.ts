import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStrategy, isStrategyName, STRATEGY_NAMES, StickySessions, WeightFactors, DynamicWeighted } from '../../balancer/strategies/index.js';
import { candidates, EMPTY_CTX } from './support/lb-fixtures.js';

for (const name of STRATEGY_NAMES) {
  test(`createStrategy('${name}') builds a strategy of that name that picks`, () => {
    const s = createStrategy(name);
    assert.equal(s.name, name);
    assert.ok(isStrategyName(name));
    const cs = candidates([1, 2, 3]);
    assert.ok(cs.includes(s.pick(cs, EMPTY_CTX)!));
    assert.equal(s.pick([], EMPTY_CTX), undefined);
  });
}

test('createStrategy: an unknown name is an error naming it and the known ones', () => {
  assert.throws(
    () => createStrategy('fastest'),
    (err: Error) => err.message.includes("'fastest'") && err.message.includes('least-request'),
  );
  assert.equal(isStrategyName('fastest'), false);
});

test('createStrategy: the sticky option wraps any strategy', () => {
  const s = createStrategy('least-request', { sticky: { cookieName: 'lb', secret: 'sixteen-chars-at-least' } });
  assert.ok(s instanceof StickySessions);
  assert.equal(s.name, 'least-request');
});

test('createStrategy: options reach the strategy and bad ones are named', () => {
  assert.throws(() => createStrategy('consistent-hash', { hashKey: 'header:' }), /hashKey/);
  assert.throws(() => createStrategy('consistent-hash', { hashBalanceFactor: 0.9 }), /balanceFactor/);
  assert.throws(() => createStrategy('least-request', { choiceCount: 1 }), /choiceCount/);
  const shared = new WeightFactors();
  const dw = createStrategy('dynamic-weighted', { dynamicWeights: shared });
  assert.ok(dw instanceof DynamicWeighted && dw.weights === shared);
  const own = createStrategy('dynamic-weighted', { dynamicWeights: { blackoutMs: 0 } });
  assert.ok(own instanceof DynamicWeighted && own.weights.options.blackoutMs === 0);
});

test('createStrategy: the random option is injected into random and least-request', () => {
  const cs = candidates([1, 1, 1, 1]);
  assert.equal(createStrategy('random', { random: () => 0.99 }).pick(cs, EMPTY_CTX), cs[3]);
  assert.equal(createStrategy('least-request', { random: () => 0 }).pick(cs, EMPTY_CTX), cs[0]);
});
