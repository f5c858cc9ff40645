import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { get, json, type Reply } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { runSwitchyard, SwitchyardProcess } from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis-server.js';
import { TestBackend } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Rate limits and bans shared by two balancer processes on one real Redis
 * (--edge-store redis): one limit for both, a ban made through one refused
 * by the other and lifted through either, and what each failure mode does
 * while Redis is away.
 */
describe('rate limits and bans shared through Redis', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  let redis: RedisServer;
  let backend: TestBackend;
  const client = new Agent({ connections: 64 });

  before(async () => {
    redis = await RedisServer.start();
    backend = await TestBackend.start('edge-b');
    cleanup.push(
      () => redis.close(),
      () => backend.close(),
      () => client.close(),
    );
  });
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  async function balancer(prefix: string, extra: readonly string[]) {
    const [port, adminPort] = [await freePort(), await freePort()];
    const proc = new SwitchyardProcess([
      'balancer',
      '--redis',
      redis.url,
      '--redis-prefix',
      prefix,
      '--backends',
      `b=${backend.url}`,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      '--edge-store',
      'redis',
      '--trusted-proxies',
      '127.0.0.1',
      ...extra,
    ]);
    cleanup.push(() => proc.kill('SIGKILL'));
    await proc.waitReady(`http://127.0.0.1:${adminPort}`, 1);
    return { proc, url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}` };
  }

  const from = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip });

  it('holds one limit across two balancers: a burst of 20 from one client, 60 requests split over both, exactly 20 served', async () => {
    // 5 a minute: over the few seconds of the test at most one token comes back.
    const opts = ['--rate-limits', '/=5/m burst 20'];
    const [a, b] = [await balancer('edge1:', opts), await balancer('edge1:', opts)];
    const before = backend.state.requests;
    const replies: Reply[] = await Promise.all(
      Array.from({ length: 60 }, (_, i) => get(`${i % 2 === 0 ? a.url : b.url}/`, { dispatcher: client, headers: from('198.51.100.1') })),
    );
    const served = replies.filter((r) => r.status === 200).length;
    const limited = replies.filter((r) => r.status === 429);
    assert.ok(served >= 20 && served <= 21, `served ${served} of 60 (burst 20, one token may refill)`);
    assert.equal(served + limited.length, 60, JSON.stringify(replies.map((r) => r.status)));
    assert.equal(backend.state.requests - before, served, 'nothing refused reached the backend');
    assert.equal(json<{ error: { code: string } }>(limited[0]!).error.code, 'SWY_RATE_LIMITED');
    // Shared, not split: counted apart, the two would have served 40. (Which one answers first varies.)
    const byA = replies.filter((r, i) => i % 2 === 0 && r.status === 200).length;
    // Another client has its own bucket, through either balancer.
    assert.equal((await get(`${b.url}/`, { dispatcher: client, headers: from('198.51.100.2') })).status, 200);
    const status = json<{ store: string; storeFailures: number }>(await get(`${a.admin}/rate-limits`));
    assert.equal(status.store, 'redis');
    assert.equal(status.storeFailures, 0);
    console.log(`# shared rate limit: ${served} of 60 served over two balancers (burst 20; a ${byA}, b ${served - byA})`);
  });

  it('holds one limit across the --workers processes of one balancer', async () => {
    const lb = await balancer('edge4:', ['--rate-limits', '/=5/m burst 10', '--workers', '2']);
    const fresh = new Agent({ connections: 32, pipelining: 0 });
    cleanup.push(() => fresh.close());
    const replies = await Promise.all(Array.from({ length: 30 }, () => get(`${lb.url}/`, { dispatcher: fresh, headers: from('198.51.100.30') })));
    const served = replies.filter((r) => r.status === 200).length;
    assert.ok(served >= 10 && served <= 11, `served ${served} of 30 (burst 10)`);
    assert.equal(served + replies.filter((r) => r.status === 429).length, 30);
  });

  it('a ban made through one balancer is refused by the other, listed by both, and lifted through either', async () => {
    const opts = ['--rate-limits', '/limited=1/m burst 1', '--ban-after', '3', '--ban-window', '60s', '--ban-duration', '1h'];
    const [a, b] = [await balancer('edge2:', opts), await balancer('edge2:', opts)];
    const ip = '203.0.113.9';
    // One allowed, then three refusals through a: three strikes, a ban.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(`${a.url}/limited`, { dispatcher: client, headers: from(ip) })).status);
    assert.deepEqual(statuses, [200, 429, 429, 429]);
    await waitFor('b refuses the banned client', async () => (await get(`${b.url}/`, { headers: from(ip) })).status === 403);
    const refused = await get(`${b.url}/other`, { headers: from(ip) });
    assert.equal(json<{ error: { code: string } }>(refused).error.code, 'SWY_BANNED');
    const listed = json<{ bans: { client: string; reason: string }[] }>(await get(`${b.admin}/bans`));
    assert.deepEqual(
      listed.bans.map((x) => [x.client, x.reason]),
      [[ip, 'SWY_RATE_LIMITED']],
    );
    assert.equal((await get(`${b.url}/`, { headers: from('203.0.113.10') })).status, 200, 'other clients are served');
    // Lifted through b: a serves the client again.
    assert.equal((await get(`${b.admin}/bans/${ip}`, { method: 'DELETE', headers: { 'content-type': 'application/json' } })).status, 204);
    await waitFor('a serves the client again', async () => (await get(`${a.url}/`, { headers: from(ip) })).status === 200);
    assert.deepEqual(json<{ bans: unknown[] }>(await get(`${a.admin}/bans`)).bans, []);
  });

  it('while Redis is away: open goes by each balancer’s own buckets, closed answers 503; both recover when it is back', async () => {
    const opts = ['--rate-limits', '/=5/m burst 3', '--edge-store-timeout', '200ms'];
    const open = await balancer('edge3:', [...opts, '--edge-store-failure', 'open']);
    const closed = await balancer('edge3:', [...opts, '--edge-store-failure', 'closed']);
    assert.equal((await get(`${closed.url}/`, { headers: from('192.0.2.1') })).status, 200);
    await redis.stop({ keepData: true });
    try {
      const viaOpen = [];
      for (let i = 0; i < 5; i++) viaOpen.push((await get(`${open.url}/`, { headers: from('192.0.2.2') })).status);
      assert.deepEqual(viaOpen, [200, 200, 200, 429, 429], 'open: its own bucket (burst 3) still limits');
      const viaClosed = await get(`${closed.url}/`, { headers: from('192.0.2.3') });
      assert.equal(viaClosed.status, 503);
      assert.equal(json<{ error: { code: string } }>(viaClosed).error.code, 'SWY_RATE_LIMIT_UNAVAILABLE');
      assert.equal(viaClosed.headers['retry-after'], '1');
      assert.ok(json<{ storeFailures: number }>(await get(`${closed.admin}/rate-limits`)).storeFailures > 0);
    } finally {
      await redis.start();
    }
    await waitFor('closed serves again once Redis is back', async () => (await get(`${closed.url}/`, { headers: from('192.0.2.4') })).status === 200, 15_000);
    await closed.proc.waitForLog('shared rate limits and bans: Redis answers again');
  });

  it('refuses --edge-store redis without a Redis registry, or with nothing to share, naming the flag', async () => {
    const noRedis = await runSwitchyard(['balancer', '--port', '0', '--admin-port', '0', '--edge-store', 'redis', '--rate-limits', '/=1/s']);
    assert.equal(noRedis.code, 2, noRedis.stderr);
    assert.match(noRedis.stderr, /--edge-store redis needs a Redis registry/);
    const nothing = await runSwitchyard(['balancer', '--port', '0', '--admin-port', '0', '--redis', 'redis://127.0.0.1:1', '--edge-store', 'redis']);
    assert.equal(nothing.code, 2, nothing.stderr);
    assert.match(nothing.stderr, /--edge-store redis shares rate limits and bans: set --rate-limits or --ban-after/);
  });
});
