import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headWaitMs, mayRetry, type RetryFacts } from '../../balancer/forward/retry-policy.js';
import { classifyUpstreamError } from '../../common/errors.js';

const base: RetryFacts = { code: 'SWY_UPSTREAM_REFUSED', requestSent: false, method: 'GET', hasBody: false, attempts: 1, maxRetries: 2 };

describe('retry policy', () => {
  const table: [string, Partial<RetryFacts>, boolean][] = [
    ['a refused GET', {}, true],
    ['a refused POST with a body (it never left)', { method: 'POST', hasBody: true }, true],
    ['a connect timeout', { code: 'SWY_UPSTREAM_CONNECT_TIMEOUT' }, true],
    ['an unreachable host', { code: 'SWY_UPSTREAM_UNREACHABLE' }, true],
    ['a reset GET after sending', { code: 'SWY_UPSTREAM_RESET', requestSent: true }, true],
    ['a reset PUT without body', { code: 'SWY_UPSTREAM_RESET', requestSent: true, method: 'PUT' }, true],
    ['a reset POST after sending', { code: 'SWY_UPSTREAM_RESET', requestSent: true, method: 'POST' }, false],
    ['a reset GET whose body was streamed', { code: 'SWY_UPSTREAM_RESET', requestSent: true, hasBody: true }, false],
    ['a response timeout', { code: 'SWY_UPSTREAM_TIMEOUT', requestSent: true }, false],
    ['a response timeout of a GET with --retry-on-timeout', { code: 'SWY_UPSTREAM_TIMEOUT', requestSent: true, retryOnTimeout: true }, true],
    ['a response timeout of a POST with --retry-on-timeout', { code: 'SWY_UPSTREAM_TIMEOUT', requestSent: true, method: 'POST', retryOnTimeout: true }, false],
    [
      'a response timeout of a GET whose body was streamed, with --retry-on-timeout',
      { code: 'SWY_UPSTREAM_TIMEOUT', requestSent: true, hasBody: true, retryOnTimeout: true },
      false,
    ],
    [
      'a response timeout past the overall deadline, with --retry-on-timeout',
      { code: 'SWY_UPSTREAM_TIMEOUT', requestSent: true, retryOnTimeout: true, remainingMs: 0 },
      false,
    ],
    ['a protocol error', { code: 'SWY_UPSTREAM_PROTOCOL', requestSent: true }, false],
    ['the last allowed attempt', { attempts: 2 }, true],
    ['beyond the retry limit', { attempts: 3 }, false],
    ['with retries off', { maxRetries: 0 }, false],
    ['a refused GET with time left of its deadline', { remainingMs: 5 }, true],
    ['a refused GET past its overall deadline', { remainingMs: 0 }, false],
    ['a reset GET past its overall deadline', { code: 'SWY_UPSTREAM_RESET', requestSent: true, remainingMs: -3 }, false],
  ];
  for (const [what, facts, expected] of table)
    it(`${expected ? 'retries' : 'does not retry'} ${what}`, () => assert.equal(mayRetry({ ...base, ...facts }), expected));
});

describe('transport error classification', () => {
  const table: [string, string][] = [
    ['ECONNREFUSED', 'SWY_UPSTREAM_REFUSED'],
    ['EHOSTUNREACH', 'SWY_UPSTREAM_UNREACHABLE'],
    ['ENOTFOUND', 'SWY_UPSTREAM_UNREACHABLE'],
    ['UND_ERR_CONNECT_TIMEOUT', 'SWY_UPSTREAM_CONNECT_TIMEOUT'],
    ['UND_ERR_HEADERS_TIMEOUT', 'SWY_UPSTREAM_TIMEOUT'],
    ['UND_ERR_BODY_TIMEOUT', 'SWY_UPSTREAM_TIMEOUT'],
    ['ECONNRESET', 'SWY_UPSTREAM_RESET'],
    ['UND_ERR_SOCKET', 'SWY_UPSTREAM_RESET'],
    ['HPE_INVALID_CONSTANT', 'SWY_UPSTREAM_PROTOCOL'],
  ];
  for (const [code, expected] of table)
    it(`maps ${code} to ${expected}`, () => assert.equal(classifyUpstreamError(Object.assign(new Error('x'), { code })), expected));
});

describe('headWaitMs', () => {
  it('is the attempt limit without a deadline, the time left when shorter, and never below 1 ms', () => {
    const now = performance.now();
    assert.equal(headWaitMs(3000, now, undefined), 3000);
    assert.equal(headWaitMs(3000, now, 0), 3000);
    const left = headWaitMs(3000, now, 500);
    assert.ok(left <= 500 && left > 400, `time left: ${left}`);
    assert.equal(headWaitMs(3000, now - 10_000, 500), 1);
  });
});
