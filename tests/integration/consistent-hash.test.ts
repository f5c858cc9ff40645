import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { get, testClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis-server.js';
import { writeBackend } from '../helpers/registry-writer.js';
import { TestBackend } from '../helpers/stack.js';

/** A balancer child process reading the given Redis, ready with `minRoutable` backends routable. */
async function balancer(redisUrl: string, minRoutable: number, extra: string[] = []): Promise<{ proc: SwitchyardProcess; url: string; adminUrl: string }> {
  const [port, adminPort] = [await freePort(), await freePort()];
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
    '--strategy',
    'consistent-hash',
    '--hash-key',
    'header:x-user',
    ...extra,
  ]);
  await proc.waitReady(`http://127.0.0.1:${adminPort}`, minRoutable);
  return { proc, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}` };
}

describe('consistent-hash across balancer processes', () => {
  let redis: RedisServer;
  let writer: Redis;
  let backends: TestBackend[];
  const procs: SwitchyardProcess[] = [];
  before(async () => {
    redis = await RedisServer.start();
    writer = redis.client();
    backends = await Promise.all(['h1', 'h2', 'h3', 'h4'].map((id) => TestBackend.start(id)));
    for (const b of backends) await writeBackend(writer, 'switchyard:', b.spec());
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    writer.disconnect();
    await redis.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('maps a key to the same backend in two balancer processes reading the same registry', async (t: TestContext) => {
    const [a, b] = [await balancer(redis.url, 4, ['--instance-id', 'lb-a']), await balancer(redis.url, 4, ['--instance-id', 'lb-b'])];
    procs.push(a.proc, b.proc);
    const client = testClient(8);
    const spread = new Map<string, number>();
    for (let k = 0; k < 300; k++) {
      const headers = { 'x-user': `user-${k}` };
      const [ra, rb, ra2] = await Promise.all([
        get(`${a.url}/`, { dispatcher: client, headers }),
        get(`${b.url}/`, { dispatcher: client, headers }),
        get(`${a.url}/`, { dispatcher: client, headers }),
      ]);
      assert.equal(ra.headers['x-backend'], rb.headers['x-backend'], `user-${k} maps alike in both balancers`);
      assert.equal(ra.headers['x-backend'], ra2.headers['x-backend'], `user-${k} maps alike every time`);
      const id = String(ra.headers['x-backend']);
      spread.set(id, (spread.get(id) ?? 0) + 1);
    }
    await client.close();
    t.diagnostic(
      `300 keys over 4 backends: ${[...spread]
        .sort()
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    assert.equal(spread.size, 4, 'every backend owns some keys');
    for (const n of spread.values()) assert.ok(n > 30, 'no backend is starved of keys');
    // Each balancer on the shared registry reports its own view under its own name (the dashboard shows it).
    const [sa, sb] = [JSON.parse((await get(`${a.adminUrl}/stats`)).body), JSON.parse((await get(`${b.adminUrl}/stats`)).body)] as {
      instanceId: string;
      requestsTotal?: number;
      backends: { id: string; requests?: number }[];
    }[];
    assert.equal(sa!.instanceId, 'lb-a');
    assert.equal(sb!.instanceId, 'lb-b');
    assert.deepEqual(sa!.backends.map((x) => x.id).sort(), ['h1', 'h2', 'h3', 'h4']);
    assert.match((await get(`${a.adminUrl}/metrics`)).body, /instance_id="lb-a"/);
  });
});
