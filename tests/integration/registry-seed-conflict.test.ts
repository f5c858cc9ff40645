import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { get, json } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis-server.js';
import { TestBackend } from '../helpers/stack.js';

/*
 * --backends with --redis are written into the registry at start. One whose
 * key already holds something else (not a backend hash) can never be written:
 * it is named once at warn and given up, and the others are written all the
 * same (they used to wait behind it, retried every 2 s for ever, in silence).
 */
describe('seeding --backends into Redis when a key holds something else', () => {
  let redis: RedisServer;
  let writer: Redis;
  let backends: TestBackend[];
  let lb: SwitchyardProcess | undefined;

  before(async () => {
    redis = await RedisServer.start();
    writer = redis.client();
    backends = await Promise.all(['s1', 's2'].map((id) => TestBackend.start(id)));
  });
  after(async () => {
    await lb?.kill('SIGKILL');
    writer.disconnect();
    await redis.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('warns once naming the key, writes the other entries and stops trying', async () => {
    await writer.set('switchyard:backend:s1', 'not a backend hash');
    const [port, adminPort] = [await freePort(), await freePort()];
    const admin = `http://127.0.0.1:${adminPort}`;
    // s1 first: the entry that cannot be written must not hold back the one after it.
    lb = new SwitchyardProcess([
      'balancer',
      '--redis',
      redis.url,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--admin-port',
      String(adminPort),
      '--backends',
      backends.map((b) => `${b.state.id}=${b.url}`).join(','),
    ]);
    await lb.waitReady(admin, 1);

    const done = await lb.waitForLog('static backends written to the registry');
    assert.deepEqual({ backends: done.backends, skipped: done.skipped }, { backends: 1, skipped: 1 });
    const warned = lb.lines.filter((l) => l.level === 'warn' && l.key === 'switchyard:backend:s1');
    assert.equal(warned.length, 1, 'named once');
    assert.match(String(warned[0]!.msg), /static backend not written to the registry/);
    assert.equal(warned[0]!.backendId, 's1');

    const ids = json<{ backends: { id: string }[] }>(await get(`${admin}/backends`)).backends.map((b) => b.id);
    assert.deepEqual(ids, ['s2']);
    assert.equal(await writer.get('switchyard:backend:s1'), 'not a backend hash', 'the foreign value is left alone');
    assert.deepEqual(await writer.smembers('switchyard:backends'), ['s2']);
  });
});
