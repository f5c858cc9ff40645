import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idleTimeAfter, keepAliveHintIn, keepAliveHintMs } from '../../balancer/forward/http1/keep-alive-hint.js';

describe("a backend's Keep-Alive hint", () => {
  it('reads the timeout parameter wherever it stands, in any case, quoted or spaced', () => {
    const cases: Array<[string, number]> = [
      ['timeout=5', 5000],
      ['timeout=5, max=1000', 5000],
      ['max=100, timeout=3', 3000],
      ['Timeout = 7', 7000],
      ['TIMEOUT=2,max=5', 2000],
      ['timeout="4"', 4000],
      ['max=1,\ttimeout=9', 9000],
      ['timeout=0', 0],
    ];
    for (const [value, ms] of cases) assert.equal(keepAliveHintMs(value), ms, value);
  });

  it('is absent when there is no readable timeout', () => {
    for (const value of ['', 'max=100', 'xtimeout=5', 'timeouts=5', 'timeout=', 'timeout=abc', 'timeout', 'timeout:5'])
      assert.equal(keepAliveHintMs(value), -1, value);
  });

  it('is capped at a day, whatever the backend claims', () => {
    assert.equal(keepAliveHintMs('timeout=999999999999'), 86_400_000);
  });

  it('is found among the fields by name, in any case, and only the Keep-Alive field counts', () => {
    assert.equal(keepAliveHintIn(['Content-Type', 'text/plain', 'Keep-Alive', 'timeout=5']), 5000);
    assert.equal(keepAliveHintIn(['connection', 'keep-alive', 'KEEP-ALIVE', 'timeout=3, max=9']), 3000);
    assert.equal(keepAliveHintIn(['Connection', 'keep-alive', 'x-keep-alive', 'timeout=3']), -1);
    assert.equal(keepAliveHintIn([]), -1);
  });

  it('shortens the idle time to a second under the hint, never lengthens it, and forbids reuse when nothing is left', () => {
    assert.equal(idleTimeAfter(60_000, -1), 60_000, 'no hint: the configured time');
    assert.equal(idleTimeAfter(60_000, 5000), 4000, "Node's default hint (timeout=5)");
    assert.equal(idleTimeAfter(2000, 30_000), 2000, 'a longer hint does not lengthen it');
    assert.equal(idleTimeAfter(60_000, 1000), 0, 'timeout=1: not reused');
    assert.equal(idleTimeAfter(60_000, 0), 0);
  });
});
