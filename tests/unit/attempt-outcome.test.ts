import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyAttempt, outcomeOfStatus } from '../../balancer/resilience/outcome.js';

test('outcome of an attempt: 5xx and transport failures fail, other responses succeed, client aborts say nothing', () => {
  assert.equal(classifyAttempt({ status: 200 }), 'success');
  assert.equal(classifyAttempt({ status: 404 }), 'success');
  assert.equal(classifyAttempt({ status: 503 }), 'failure');
  assert.equal(classifyAttempt({ error: 'SWY_UPSTREAM_REFUSED' }), 'failure');
  assert.equal(classifyAttempt({ error: 'SWY_UPSTREAM_TIMEOUT' }), 'failure');
  assert.equal(classifyAttempt({ error: 'SWY_UPSTREAM_RESET', cancelled: true }), 'cancelled');
  assert.equal(classifyAttempt({ status: 500, cancelled: true }), 'failure');
  assert.equal(classifyAttempt({}), 'cancelled');
});

test('outcome of a status on the hot path', () => {
  assert.equal(outcomeOfStatus(200), 'success');
  assert.equal(outcomeOfStatus(499), 'success');
  assert.equal(outcomeOfStatus(500), 'failure');
});
