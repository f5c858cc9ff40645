import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../common/logger.js';
import { RedisLease } from '../../controller/lease.js';
import { RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'switchyard:controller-lease:test';

function lease(url: string, holder: string, ttlMs = 1000): RedisLease {
  return new RedisLease({ target: { url }, key: KEY, holder, ttlMs, logger: silentLogger(), redisOptions: { retryStrategy: () => 50 } });
}

describe('the writer lease in Redis', () => {
  let redis: RedisServer;
  let admin: Redis;
  const open: RedisLease[] = [];
  const make = (holder: string, ttlMs?: number): RedisLease => {
    const l = lease(redis.url, holder, ttlMs);
    open.push(l);
    return l;
  };

  before(async () => {
    redis = await RedisServer.start();
    admin = redis.client();
  });
  after(async () => {
    await Promise.all(open.map((l) => l.close()));
    admin.disconnect();
    await redis.close();
  });

  it('one holder at a time; the other stands by and the key names the holder', async () => {
    await admin.del(KEY);
    const a = make('a');
    const b = make('b');
    await a.start();
    await b.start();
    assert.equal(a.held, true);
    assert.equal(b.held, false);
    assert.equal(await admin.get(KEY), 'a');
    // Renewal keeps it with a across several TTLs.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(a.held, true);
    assert.equal(b.held, false);
    assert.equal(await admin.get(KEY), 'a');
    const pttl = await admin.pttl(KEY);
    assert.ok(pttl > 0 && pttl <= 1000, `pttl ${pttl}`);
    await a.close();
    await b.close();
  });

  it('close() releases it: a standby takes over within one claim interval', async (t: TestContext) => {
    await admin.del(KEY);
    const a = make('a');
    const b = make('b');
    const changes: boolean[] = [];
    b.subscribe((held) => changes.push(held));
    await a.start();
    await b.start();
    const t0 = Date.now();
    await a.close();
    await waitFor('b to hold the lease', () => b.held, 2000, 10);
    const ms = Date.now() - t0;
    t.diagnostic(`handover after release: ${ms} ms`);
    assert.ok(ms < 600, `took ${ms} ms`);
    assert.deepEqual(changes, [true]);
    assert.equal(await admin.get(KEY), 'b');
    await b.close();
    assert.equal(await admin.get(KEY), null, 'the holder deletes its own lease on close');
  });

  it('a holder that vanished without releasing is replaced once its lease expires, not before', async (t: TestContext) => {
    await admin.set(KEY, 'crashed', 'PX', 1000);
    const b = make('b');
    await b.start();
    assert.equal(b.held, false);
    const t0 = Date.now();
    await waitFor('b to hold the lease', () => b.held, 3000, 10);
    const ms = Date.now() - t0;
    t.diagnostic(`takeover after expiry: ${ms} ms (ttl 1000 ms)`);
    assert.ok(ms >= 800 && ms < 1600, `took ${ms} ms`);
    await b.close();
  });

  it('release never deletes a lease held by someone else', async () => {
    await admin.set(KEY, 'other', 'PX', 5000);
    const a = make('a');
    await a.start();
    assert.equal(a.held, false);
    await a.close();
    assert.equal(await admin.get(KEY), 'other');
    await admin.del(KEY);
  });

  it('the holder stops counting itself holder before the TTL when Redis is gone, and claims again when it is back', async (t: TestContext) => {
    await admin.del(KEY);
    const a = make('a');
    const changes: boolean[] = [];
    a.subscribe((held) => changes.push(held));
    await a.start();
    assert.equal(a.held, true);
    const t0 = Date.now();
    await redis.stop();
    await waitFor('a to give up the lease', () => !a.held, 3000, 10);
    const ms = Date.now() - t0;
    t.diagnostic(`gave up ${ms} ms after Redis went away (ttl 1000 ms)`);
    assert.ok(ms <= 1000, `a must give up within the ttl, took ${ms} ms`);
    await redis.start();
    await waitFor('a to hold the lease again', () => a.held, 5000, 20);
    assert.deepEqual(changes, [true, false, true]);
    await a.close();
  });
});
