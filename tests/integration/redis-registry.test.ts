import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { get, loadLoop, testClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis-server.js';
import { removeBackend, writeBackend, writeRawEntry } from '../helpers/registry-writer.js';
import { TestBackend } from '../helpers/stack.js';
import { sleep } from '../helpers/wait.js';

const PREFIX = 'switchyard:';

/** A balancer child process reading the given Redis, ready with `minRoutable` backends routable (those the registry holds at start). */
async function startBalancer(redisUrl: string, minRoutable: number, extra: string[] = []): Promise<{ proc: SwitchyardProcess; url: string; adminUrl: string }> {
  const port = await freePort();
  const adminPort = await freePort();
  const proc = new SwitchyardProcess([
    'balancer',
    '--redis',
    redisUrl,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--admin-port',
    String(adminPort),
    '--health-interval',
    '500ms',
    '--health-fast-interval',
    '100ms',
    '--health-timeout',
    '400ms',
    ...extra,
  ]);
  await proc.waitReady(`http://127.0.0.1:${adminPort}`, minRoutable);
  return { proc, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}` };
}

/** Sends requests until one is answered by `id` (or none is, when `present` is false); returns the time taken. */
async function timeUntilRouting(url: string, id: string, present: boolean, timeoutMs = 3000): Promise<number> {
  const t0 = Date.now();
  const client = testClient(4);
  try {
    for (;;) {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add(String((await get(url, { dispatcher: client })).headers['x-backend']));
      if (seen.has(id) === present) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) throw new Error(`${id} still ${present ? 'absent' : 'present'} after ${timeoutMs} ms`);
      await sleep(10);
    }
  } finally {
    await client.close();
  }
}

describe('the Redis registry', () => {
  let redis: RedisServer;
  let writer: Redis;
  let backends: TestBackend[];
  const procs: SwitchyardProcess[] = [];

  before(async () => {
    redis = await RedisServer.start();
    writer = redis.client();
    backends = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((id) => TestBackend.start(id)));
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    writer.disconnect();
    await redis.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('routes to a backend added by another process within 1 s, and drops a removed one, with pub/sub alone', async (t: TestContext) => {
    await writer.flushall();
    await writeBackend(writer, PREFIX, backends[0]!.spec());
    // Polling once a minute: only pub/sub can deliver changes in time.
    const lb = await startBalancer(redis.url, 1, ['--registry-poll', '60s']);
    procs.push(lb.proc);
    await writeBackend(writer, PREFIX, backends[1]!.spec());
    const addedMs = await timeUntilRouting(lb.url, 'r2', true);
    await removeBackend(writer, PREFIX, 'r2');
    const removedMs = await timeUntilRouting(lb.url, 'r2', false);
    t.diagnostic(`pub/sub only: added routed in ${addedMs} ms, removed dropped in ${removedMs} ms`);
    assert.ok(addedMs < 1000, `added in ${addedMs} ms`);
    assert.ok(removedMs < 1000, `removed in ${removedMs} ms`);
    await lb.proc.kill();
  });

  it('catches up within 1 s by polling the version when pub/sub messages are lost', async (t: TestContext) => {
    await writer.flushall();
    await writeBackend(writer, PREFIX, backends[0]!.spec());
    const lb = await startBalancer(redis.url, 1);
    procs.push(lb.proc);
    await writeBackend(writer, PREFIX, backends[2]!.spec(), { publish: false });
    const addedMs = await timeUntilRouting(lb.url, 'r3', true);
    await removeBackend(writer, PREFIX, 'r3', { publish: false });
    const removedMs = await timeUntilRouting(lb.url, 'r3', false);
    t.diagnostic(`messages lost: added routed in ${addedMs} ms, removed dropped in ${removedMs} ms`);
    assert.ok(addedMs < 1000, `added in ${addedMs} ms`);
    assert.ok(removedMs < 1000, `removed in ${removedMs} ms`);
    await lb.proc.kill();
  });

  it('skips a malformed entry with one warning and keeps serving the good ones', async () => {
    await writer.flushall();
    await writeBackend(writer, PREFIX, backends[0]!.spec());
    await writeRawEntry(writer, PREFIX, 'broken', { url: 'not a url', weight: 'heavy' });
    await writeRawEntry(writer, PREFIX, 'no-hash', {});
    const lb = await startBalancer(redis.url, 1);
    procs.push(lb.proc);
    const warn = await lb.proc.waitForLog('skipping malformed registry entry', 5000, (l) => l.backendId === 'broken');
    assert.match(String(warn.reason), /not an http\(s\) origin/);
    await lb.proc.waitForLog('skipping malformed registry entry', 5000, (l) => l.backendId === 'no-hash');
    const r = await loadLoop(`${lb.url}/`, 50, 5);
    assert.equal(r.failed, 0);
    await sleep(1200); // several polls later the warning has not repeated
    assert.equal(lb.proc.lines.filter((l) => l.msg === 'skipping malformed registry entry' && l.backendId === 'broken').length, 1);
    await lb.proc.kill();
  });

  it('keeps serving the last known backends while Redis is away, and resyncs when it returns', async (t: TestContext) => {
    await writer.flushall();
    await writeBackend(writer, PREFIX, backends[0]!.spec());
    await writeBackend(writer, PREFIX, backends[1]!.spec());
    const lb = await startBalancer(redis.url, 2);
    procs.push(lb.proc);

    await redis.stop({ keepData: true });
    await lb.proc.waitForLog('registry connection lost, serving the last known backends', 5000);
    const during = await loadLoop(`${lb.url}/`, 400, 8, { stopAfterMs: 10_000 });
    assert.equal(during.failed, 0, during.failures.join('; '));
    assert.deepEqual([...during.byBackend.keys()].sort(), ['r1', 'r2']);
    const ready = (await get(`${lb.adminUrl}/readyz`)).status;
    assert.equal(ready, 200, 'still ready: it serves from the last snapshot');

    await redis.start();
    await lb.proc.waitForLog('registry connection restored, resyncing', 10_000);
    writer.disconnect();
    writer = redis.client();
    // Written without a pub/sub message: only the resync and the version poll can find it.
    await writeBackend(writer, PREFIX, backends[3]!.spec(), { publish: false });
    const ms = await timeUntilRouting(lb.url, 'r4', true);
    t.diagnostic(`after Redis returned, a new backend (no pub/sub message) was routed in ${ms} ms`);
    assert.ok(ms < 2000, `found by the version poll in ${ms} ms`);
    await lb.proc.kill();
  });
});
