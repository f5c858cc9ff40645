import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { createStrategy, STRATEGY_NAMES } from '../../balancer/strategies/index.js';
import { withOptionsBlock } from '../../scripts/strategy-docs.js';

const doc = readFileSync(new URL('../../docs/strategies.md', import.meta.url), 'utf8');

it('documents every strategy in docs/strategies.md', () => {
  for (const name of STRATEGY_NAMES) assert.match(doc, new RegExp(`^### \`${name}\``, 'm'), `${name} has a section`);
  assert.match(doc, /^### Sticky sessions/m);
});

it('lists every strategy, resilience and admission option with its flag and env (run: npx tsx scripts/strategy-docs.ts)', () => {
  assert.equal(doc, withOptionsBlock(doc));
});

it('rejects an unknown strategy name with the known ones', () => {
  assert.throws(
    () => createStrategy('fastest'),
    /unknown strategy 'fastest'; known strategies: round-robin, random, weighted-round-robin, consistent-hash, least-request, dynamic-weighted/,
  );
});
