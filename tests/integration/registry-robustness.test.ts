import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import type { BackendSpec } from '../../common/backend.js';
import { silentLogger } from '../../common/logger.js';
import { RedisRegistry } from '../../common/registry/redis-registry.js';
import type { ContainerFacts, ContainerSource, ContainerSourceListener } from '../../controller/container-source.js';
import { DockerController } from '../../controller/controller.js';
import { RedisLease } from '../../controller/lease.js';
import { get, json, loadLoop, testClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis-server.js';
import { writeBackend, writeRawEntry } from '../helpers/registry-writer.js';
import { TestBackend } from '../helpers/stack.js';
import { waitFor, waitReady } from '../helpers/wait.js';

const PREFIX = 'switchyard:';
const SKIP_LOG = 'skipping malformed registry entry';
const UNREADABLE_LOG = 'registry snapshot cannot be read, serving the last known backends';

interface Readyz {
  readonly status: string;
  readonly registrySynced: boolean;
  readonly registryError: string | null;
  readonly registrySkippedEntries: number;
  readonly routableBackends: number;
}

interface Balancer {
  readonly proc: SwitchyardProcess;
  readonly url: string;
  readonly adminUrl: string;
}

/** A `switchyard balancer` child reading the given Redis; `ready` waits for /readyz 200 with that many routable backends. */
async function startBalancer(redisUrl: string, ready: number | false): Promise<Balancer> {
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
    '--registry-poll',
    '200ms',
    '--health-interval',
    '500ms',
    '--health-fast-interval',
    '100ms',
    '--health-timeout',
    '400ms',
  ]);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  if (ready === false) await waitFor(`${adminUrl}/readyz to answer`, async () => (await get(`${adminUrl}/readyz`)).status > 0, 15_000);
  else await waitReady(adminUrl, ready);
  return { proc, url: `http://127.0.0.1:${port}`, adminUrl };
}

async function readyz(lb: Balancer): Promise<{ status: number; body: Readyz }> {
  const r = await get(`${lb.adminUrl}/readyz`);
  return { status: r.status, body: json<Readyz>(r) };
}

/** Sends batches of requests until every id in `ids` has answered; fails after the timeout. */
async function routesTo(lb: Balancer, ids: readonly string[], timeoutMs = 5000): Promise<void> {
  const client = testClient(4);
  try {
    const seen = new Set<string>();
    await waitFor(
      `${lb.url} to route to ${ids.join(', ')}`,
      async () => {
        for (let i = 0; i < 3 * ids.length; i++) {
          const r = await get(lb.url, { dispatcher: client });
          if (r.status === 200) seen.add(String(r.headers['x-backend']));
        }
        return ids.every((id) => seen.has(id));
      },
      timeoutMs,
      10,
    );
  } finally {
    await client.close();
  }
}

const skipWarnings = (lb: Balancer, id: string): number => lb.proc.lines.filter((l) => l.msg === SKIP_LOG && l.backendId === id).length;

/** Writes the bad entries: two wrong-typed keys and three malformed hashes, each listed in the set. */
async function writeBadEntries(redis: Redis): Promise<void> {
  await redis
    .multi()
    .del(`${PREFIX}backend:as-string`)
    .set(`${PREFIX}backend:as-string`, 'http://127.0.0.1:1')
    .sadd(`${PREFIX}backends`, 'as-string')
    .incr(`${PREFIX}version`)
    .exec();
  await redis
    .multi()
    .del(`${PREFIX}backend:as-list`)
    .rpush(`${PREFIX}backend:as-list`, 'a', 'b')
    .sadd(`${PREFIX}backends`, 'as-list')
    .incr(`${PREFIX}version`)
    .exec();
  await writeRawEntry(redis, PREFIX, 'bad-url', { url: 'not a url', weight: '1' });
  await writeRawEntry(redis, PREFIX, 'bad-weight', { url: 'http://127.0.0.1:1', weight: 'heavy' });
  await writeRawEntry(redis, PREFIX, 'bad-labels', { url: 'http://127.0.0.1:1', labels: '{oops' });
}
const BAD_IDS = ['as-list', 'as-string', 'bad-labels', 'bad-url', 'bad-weight'];

describe('the Redis registry with bad keys and unreadable snapshots', () => {
  let redis: RedisServer;
  let writer: Redis;
  let backends: TestBackend[];
  const procs: SwitchyardProcess[] = [];

  before(async () => {
    redis = await RedisServer.start();
    writer = redis.client();
    backends = await Promise.all(['g1', 'g2', 'g3'].map((id) => TestBackend.start(id)));
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    writer.disconnect();
    await redis.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('skips wrong-typed and malformed entries, counts them, warns once each, and routes every good backend', async (t: TestContext) => {
    await writer.flushall();
    await writeBackend(writer, PREFIX, backends[0]!.spec());
    const running = await startBalancer(redis.url, 1);
    procs.push(running.proc);

    await writeBadEntries(writer);
    // Added after the bad keys: a balancer frozen on its old snapshot would never route it.
    await writeBackend(writer, PREFIX, backends[1]!.spec());
    await routesTo(running, ['g1', 'g2']);

    const later = await startBalancer(redis.url, 2);
    procs.push(later.proc);
    await routesTo(later, ['g1', 'g2']);
    const load = await loadLoop(`${later.url}/`, 60, 6);
    assert.equal(load.failed, 0, load.failures.join('; '));

    for (const lb of [running, later]) {
      const r = await readyz(lb);
      assert.equal(r.status, 200);
      assert.equal(r.body.registryError, null);
      assert.equal(r.body.registrySkippedEntries, BAD_IDS.length);
      const info = json<{ registry: { skippedEntries: number; skipped: { id: string; reason: string }[] } }>(await get(`${lb.adminUrl}/info`));
      assert.equal(info.registry.skippedEntries, BAD_IDS.length);
      assert.deepEqual(
        info.registry.skipped.map((s) => s.id),
        BAD_IDS,
      );
      const why = Object.fromEntries(info.registry.skipped.map((s) => [s.id, s.reason]));
      assert.match(why['as-string']!, /wrong type: string/);
      assert.match(why['as-list']!, /wrong type: not a hash/);
      assert.match(why['bad-url']!, /not an http\(s\) origin/);
      assert.match(why['bad-weight']!, /weight 'heavy'/);
      assert.match(why['bad-labels']!, /labels is not valid JSON/);
      for (const id of BAD_IDS) await lb.proc.waitForLog(SKIP_LOG, 5000, (l) => l.backendId === id);
    }

    // More changes make both reload; the unchanged bad entries are not warned about again.
    await writeBackend(writer, PREFIX, backends[2]!.spec());
    await Promise.all([routesTo(running, ['g3']), routesTo(later, ['g3'])]);
    await writeBackend(writer, PREFIX, backends[2]!.spec({ weight: 2 }));
    for (const lb of [running, later]) {
      await waitFor('the weight change to load', async () =>
        json<{ backends: { id: string; weight: number }[] }>(await get(`${lb.adminUrl}/backends`)).backends.some((b) => b.id === 'g3' && b.weight === 2),
      );
      for (const id of BAD_IDS) assert.equal(skipWarnings(lb, id), 1, `${id} warned once`);
    }
    // The admin API does not overwrite a key that is not a backend hash: 409, and the key is left as it was.
    const conflict = await get(`${running.adminUrl}/backends`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'as-string', url: backends[0]!.url }),
    });
    assert.equal(conflict.status, 409, conflict.body);
    assert.equal(json<{ error: { code: string } }>(conflict).error.code, 'SWY_REGISTRY_CONFLICT');
    assert.equal(await writer.type(`${PREFIX}backend:as-string`), 'string');
    // A changed bad entry is new content: warned once more.
    await writeRawEntry(writer, PREFIX, 'bad-weight', { url: 'http://127.0.0.1:1', weight: '-4' });
    const again = await running.proc.waitForLog(SKIP_LOG, 5000, (l) => l.backendId === 'bad-weight' && /'-4'/.test(String(l.reason)));
    t.diagnostic(`re-warned: ${String(again.reason)}`);
    assert.equal(skipWarnings(running, 'bad-weight'), 2);
    await Promise.all([running.proc.kill(), later.proc.kill()]);
  });

  const breakages: { what: string; reason: RegExp; breakIt: () => Promise<unknown>; fixIt: () => Promise<unknown> }[] = [
    {
      what: 'the backends set is a string',
      reason: /switchyard:backends cannot be read as a set: WRONGTYPE/,
      breakIt: () => writer.multi().rename(`${PREFIX}backends`, `${PREFIX}backends-saved`).set(`${PREFIX}backends`, 'g1,g2').incr(`${PREFIX}version`).exec(),
      fixIt: () => writer.multi().del(`${PREFIX}backends`).rename(`${PREFIX}backends-saved`, `${PREFIX}backends`).incr(`${PREFIX}version`).exec(),
    },
    {
      what: 'the version is not an integer',
      reason: /switchyard:version holds 'two', not a non-negative integer/,
      breakIt: () => writer.set(`${PREFIX}version`, 'two'),
      fixIt: () => writer.set(`${PREFIX}version`, '1000'),
    },
    {
      what: 'an ACL refuses the snapshot script',
      reason: /the snapshot script failed: NOPERM/,
      // Noticed at the next change the balancer must read.
      breakIt: async () => {
        await writer.call('ACL', 'SETUSER', 'default', '-evalsha', '-eval');
        await writer.incr(`${PREFIX}version`);
      },
      fixIt: () => writer.call('ACL', 'SETUSER', 'default', '+evalsha', '+eval'),
    },
  ];

  for (const b of breakages) {
    it(`when ${b.what}: /readyz answers 503 with the reason, traffic goes to the last known backends, and ready again once fixed`, async (t: TestContext) => {
      await writer.flushall();
      await writeBackend(writer, PREFIX, backends[0]!.spec());
      await writeBackend(writer, PREFIX, backends[1]!.spec());
      const lb = await startBalancer(redis.url, 2);
      procs.push(lb.proc);

      await b.breakIt();
      t.after(() => b.fixIt().catch(() => undefined));
      const notReady = await waitFor('/readyz 503', async () => {
        const r = await readyz(lb);
        return r.status === 503 ? r.body : undefined;
      });
      t.diagnostic(`readyz: ${JSON.stringify(notReady)}`);
      assert.equal(notReady.status, 'not ready');
      assert.equal(notReady.registrySynced, false);
      assert.match(String(notReady.registryError), b.reason);
      const during = await loadLoop(`${lb.url}/`, 60, 6);
      assert.equal(during.failed, 0, during.failures.join('; '));
      assert.deepEqual([...during.byBackend.keys()].sort(), ['g1', 'g2']);
      await lb.proc.waitForLog(UNREADABLE_LOG, 5000);

      // Started while the registry cannot be read: not ready, with the same reason.
      const late = await startBalancer(redis.url, false);
      procs.push(late.proc);
      const lateReady = await waitFor('the late balancer to give the reason', async () => {
        const r = await readyz(late);
        return r.status === 503 && r.body.registryError !== null && !/no registry snapshot/.test(r.body.registryError) ? r.body : undefined;
      });
      assert.match(String(lateReady.registryError), b.reason);

      await b.fixIt();
      await writeBackend(writer, PREFIX, backends[2]!.spec());
      await waitFor('/readyz 200 again', async () => (await readyz(lb)).status === 200);
      await waitReady(late.adminUrl, 3);
      await routesTo(lb, ['g1', 'g2', 'g3']);
      await routesTo(late, ['g1', 'g2', 'g3']);
      assert.equal((await readyz(lb)).body.registryError, null);
      // Every poll retried the read meanwhile; the failure was logged once.
      assert.equal(lb.proc.lines.filter((l) => l.msg === UNREADABLE_LOG).length, 1);
      await lb.proc.waitForLog('registry snapshot readable again', 5000);
      await Promise.all([lb.proc.kill(), late.proc.kill()]);
    });
  }

  it('lets the controller keep reconciling around a foreign wrong-typed key, which it neither overwrites nor deletes', async () => {
    await writer.flushall();
    const NET = 'robust-net';
    // `app_1` is wanted by a container but its key is someone's string, listed in the set; `app_3` is a string not in the set.
    await writer
      .multi()
      .set(`${PREFIX}backend:app_1`, 'foreign')
      .sadd(`${PREFIX}backends`, 'app_1')
      .set(`${PREFIX}backend:app_3`, 'foreign too')
      .incr(`${PREFIX}version`)
      .exec();
    const container = (name: string, ip: string): ContainerFacts => ({
      id: `cid-${name}`,
      name,
      state: 'running',
      health: 'healthy',
      startedAt: Date.now() - 1000,
      labels: { 'switchyard.enable': 'true', 'switchyard.port': '8081' },
      networks: { [NET]: { ip } },
    });
    const containers = [container('app_1', '10.9.0.1'), container('app_2', '10.9.0.2'), container('app_3', '10.9.0.3')];
    const source: ContainerSource = {
      watch: (l: ContainerSourceListener) => queueMicrotask(() => l.connected()),
      start: async () => undefined,
      close: async () => undefined,
      list: async () => containers,
    };
    const registry = new RedisRegistry({ target: { url: redis.url }, prefix: PREFIX, pollIntervalMs: 100, logger: silentLogger() });
    const lease = new RedisLease({
      target: { url: redis.url },
      key: `${PREFIX}controller-lease:${NET}`,
      holder: 'robust',
      ttlMs: 1000,
      logger: silentLogger(),
    });
    const controller = new DockerController({
      settings: { network: NET, labelPrefix: 'switchyard', resyncIntervalMs: 200, retryDelay: () => 100 },
      source,
      registry,
      lease,
      logger: silentLogger(),
    });
    await registry.start();
    await lease.start();
    await controller.start();
    try {
      await waitFor('app_2 registered', () => registry.current().backends.some((b: BackendSpec) => b.id === 'app_2'));
      // Several resyncs later it still reconciles, without failures, and the foreign keys are as they were.
      const reconciles = controller.status().reconciles;
      await waitFor('more reconciles', () => controller.status().reconciles >= reconciles + 3);
      assert.equal(controller.status().failures, 0);
      assert.equal(controller.status().lastError, undefined);
      assert.equal(await writer.get(`${PREFIX}backend:app_1`), 'foreign');
      assert.equal(await writer.get(`${PREFIX}backend:app_3`), 'foreign too');
      assert.deepEqual(
        registry.current().backends.map((b) => b.id),
        ['app_2'],
      );
      assert.deepEqual(
        registry.current().skipped?.map((s) => s.id),
        ['app_1'],
      );
    } finally {
      await controller.close();
      await lease.close();
      await registry.close();
    }
  });

  it('keeps the controller standing by, not failing, while its lease key holds a foreign value', async () => {
    await writer.flushall();
    const key = `${PREFIX}controller-lease:lease-net`;
    await writer.hset(key, 'holder', 'nobody');
    const lease = new RedisLease({ target: { url: redis.url }, key, holder: 'robust', ttlMs: 600, logger: silentLogger() });
    await lease.start();
    try {
      await lease.tick();
      assert.equal(lease.held, false);
      assert.equal(await writer.hget(key, 'holder'), 'nobody', 'the foreign key is left as it was');
      await writer.del(key);
      await waitFor('the lease once the key is gone', () => lease.held);
    } finally {
      await lease.close();
    }
  });
});
