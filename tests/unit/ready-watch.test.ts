import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadyWatch, type WatchedConnection } from '../../common/registry/ready-watch.js';

/** A connection's status and what was done to it (pure logic: no Redis needed). */
function fake(status: string): WatchedConnection & { calls: string[]; status: string } {
  const calls: string[] = [];
  return {
    status,
    calls,
    connect: () => {
      calls.push('connect');
      return Promise.resolve();
    },
    disconnect: (reconnect?: boolean) => void calls.push(`disconnect(${reconnect})`),
  } as unknown as WatchedConnection & { calls: string[]; status: string };
}

describe('registry connection watch', () => {
  it('drops a connection stuck connecting for the whole period, then waits a full period again', () => {
    const w = new ReadyWatch(10_000);
    const c = fake('connect');
    assert.equal(w.check(c, 1000), undefined);
    assert.equal(w.check(c, 10_999), undefined);
    assert.equal(w.check(c, 11_000), 'connect');
    assert.deepEqual(c.calls, ['disconnect(true)']);
    assert.equal(w.check(c, 20_999), undefined);
    assert.equal(w.check(c, 21_000), 'connect');
  });

  it('connects an ended connection again, leaves ioredis its own retries, and starts over once ready', () => {
    const w = new ReadyWatch(10_000);
    const ended = fake('end');
    w.check(ended, 1);
    assert.equal(w.check(ended, 10_001), 'end');
    assert.deepEqual(ended.calls, ['connect']);
    const retrying = fake('reconnecting');
    const w2 = new ReadyWatch(10_000);
    w2.check(retrying, 1);
    assert.equal(w2.check(retrying, 50_000), undefined);
    assert.deepEqual(retrying.calls, []);
    const flapping = fake('connecting');
    const w3 = new ReadyWatch(10_000);
    w3.check(flapping, 1);
    flapping.status = 'ready';
    w3.check(flapping, 9_000);
    flapping.status = 'connecting';
    assert.equal(w3.check(flapping, 12_000), undefined, 'a ready moment restarts the period');
    assert.deepEqual(flapping.calls, []);
  });
});
