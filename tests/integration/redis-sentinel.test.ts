import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { silentLogger } from '../../common/logger.js';
import type { RedisTarget } from '../../common/registry/redis-connection.js';
import { RedisRegistry } from '../../common/registry/redis-registry.js';
import { RedisLease } from '../../controller/lease.js';
import { get, json, testClient } from '../helpers/http.js';
import { startBalancer, type RunningBalancer } from '../helpers/processes.js';
import { RedisSentinel } from '../helpers/redis-sentinel.js';
import { RedisServer } from '../helpers/redis-server.js';
import { makeStackSecrets } from '../helpers/stack-secrets.js';
import { TestBackend } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const MASTER = 'switchyard';
const PREFIX = 'switchyard:';

/**
 * The registry on a Redis primary with one replica and three sentinels
 * (quorum 2), every node with the stack's ACL users: the primary is killed
 * under load after writes that never reached the replica (its link was cut
 * first), so the promoted replica has an older registry and no lease.
 */
describe('Redis Sentinel: the registry survives its primary', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-sentinel-'));
  const pw: Record<string, string> = {};
  let primary: RedisServer;
  let replica: RedisServer;
  const sentinels: RedisSentinel[] = [];
  const backends: TestBackend[] = [];
  const balancers: RunningBalancer[] = [];
  const closers: (() => Promise<unknown> | unknown)[] = [];
  let target: (user: string) => RedisTarget;
  let admin: () => Redis;

  before(async () => {
    // The stack's users (scripts/stack-secrets.sh), plus what replication and Sentinel need on every node:
    // ACLs are not replicated, so each node loads the same file.
    const secrets = makeStackSecrets(dir);
    Object.assign(pw, secrets.passwords);
    for (const role of ['replicator', 'sentinel', 'admin', 'sentinels']) pw[role] = `${role}-${Math.random().toString(36).slice(2)}`;
    const acl = join(dir, 'users.acl');
    writeFileSync(
      acl,
      [
        readFileSync(secrets.aclFile, 'utf8').trim(),
        `user replicator on >${pw.replicator} resetkeys resetchannels -@all +psync +replconf +ping`,
        `user sentinel on >${pw.sentinel} resetkeys allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill`,
        `user admin on >${pw.admin} ~* &* +@all`,
        '',
      ].join('\n'),
    );
    primary = await RedisServer.start({ args: ['--aclfile', acl] });
    replica = await RedisServer.start({
      args: ['--aclfile', acl, '--replicaof', '127.0.0.1', String(primary.port), '--masteruser', 'replicator', '--masterauth', pw.replicator!],
    });
    closers.push(
      () => primary.close(),
      () => replica.close(),
    );
    const adminClients: Redis[] = [];
    admin = () => {
      const c = new Redis({
        sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
        name: MASTER,
        sentinelPassword: pw.sentinels,
        username: 'admin',
        password: pw.admin,
        maxRetriesPerRequest: 1,
      });
      c.on('error', () => undefined);
      adminClients.push(c);
      return c;
    };
    closers.push(() => adminClients.forEach((c) => c.disconnect()));
    const direct = (port: number): Redis => {
      const c = new Redis({ port, host: '127.0.0.1', username: 'admin', password: pw.admin, maxRetriesPerRequest: 1, retryStrategy: () => null });
      c.on('error', () => undefined);
      adminClients.push(c);
      return c;
    };
    const onReplica = direct(replica.port);
    await waitFor('the replica in sync', async () => /master_link_status:up/.test(await onReplica.info('replication')), 10_000, 50);

    for (let i = 0; i < 3; i++) {
      sentinels.push(
        await RedisSentinel.start({
          masterName: MASTER,
          primaryPort: primary.port,
          quorum: 2,
          downAfterMs: 2000,
          failoverTimeoutMs: 10_000,
          authUser: 'sentinel',
          authPass: pw.sentinel!,
          password: pw.sentinels!,
        }),
      );
    }
    closers.push(() => Promise.all(sentinels.map((s) => s.close())));
    // Failover needs every sentinel to know the replica and a majority of the others.
    await waitFor(
      'the sentinels to find the replica and each other',
      async () => (await Promise.all(sentinels.map((s) => s.known()))).every((k) => k.replicas === 1 && k.sentinels === 2),
      20_000,
      100,
    );

    target = (user: string): RedisTarget => ({
      url: `redis://${user}:${pw[user]}@unused:1`,
      sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      masterName: MASTER,
      sentinelPassword: pw.sentinels!,
    });
    for (const id of ['s1', 's2', 's3', 's4']) backends.push(await TestBackend.start(id));
    closers.push(() => Promise.all(backends.map((b) => b.close())));
  });

  after(async () => {
    for (const b of balancers) await b.lb.kill();
    for (const c of closers.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving through a failover that loses writes, resyncs every balancer, and never lets two controllers hold the lease', async () => {
    const writer = new RedisRegistry({ target: target('controller'), prefix: PREFIX, pollIntervalMs: 100, logger: silentLogger() });
    await writer.start();
    closers.push(() => writer.close());
    const [s1, s2, s3, s4] = backends as [TestBackend, TestBackend, TestBackend, TestBackend];
    await writer.upsert(s1.spec());
    await writer.upsert(s2.spec());

    const sentinelArgs = [
      '--redis-sentinels',
      sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      '--redis-master-name',
      MASTER,
      '--registry-poll',
      '200ms',
    ];
    const env = { REDIS_URL: `redis://balancer:${pw.balancer}@unused:1`, REDIS_SENTINEL_PASSWORD: pw.sentinels! };
    for (let i = 0; i < 2; i++) balancers.push(await startBalancer(sentinelArgs, { minRoutable: 2, env }));
    const ids = async (lb: RunningBalancer): Promise<string> => {
      const r = await get(`${lb.admin}/backends`);
      return json<{ backends: { id: string }[] }>(r)
        .backends.map((b) => b.id)
        .sort()
        .join(',');
    };
    const everyBalancerHas = (want: string, what: string) =>
      waitFor(`every balancer to list ${want} (${what})`, async () => (await Promise.all(balancers.map(ids))).every((x) => x === want), 40_000, 50).catch(
        async (err: Error) => {
          // What each balancer lists, and whether it calls its registry synced, for the next reader of a failure.
          const seen = await Promise.all(balancers.map(async (b) => `${await ids(b)} ${(await get(`${b.admin}/readyz`)).body}`));
          // and what each logged about its registry connection
          const logs = balancers.map(
            (b, i) =>
              `balancer ${i + 1}: ${b.lb.lines
                .map((l) => JSON.stringify(l))
                .filter((l) => /regist|redis|sentinel/i.test(l))
                .slice(-12)
                .join('\n  ')}`,
          );
          throw new Error(`${err.message}; balancers: ${seen.join(' | ')}\n${logs.join('\n')}`);
        },
      );

    // Load through both balancers from here to the end, bounded in count and time.
    const load = { stop: false, ok: 0, failed: 0, failures: [] as string[] };
    const client = testClient(16);
    const deadline = Date.now() + 90_000;
    const worker = async (lb: RunningBalancer): Promise<void> => {
      for (let n = 0; n < 200_000 && !load.stop && Date.now() < deadline; n++) {
        try {
          const r = await get(lb.url, { dispatcher: client });
          if (r.status === 200) load.ok++;
          else {
            load.failed++;
            if (load.failures.length < 10) load.failures.push(`${r.status} ${r.body.slice(0, 160)}`);
          }
        } catch (err) {
          load.failed++;
          if (load.failures.length < 10) load.failures.push(String(err));
        }
      }
    };
    const loading = Promise.all(balancers.flatMap((lb) => [worker(lb), worker(lb), worker(lb), worker(lb)]));

    // Cut the replica off: frozen, and its link closed by the primary, so nothing written from here reaches it.
    replica.signal('SIGSTOP');
    const onPrimary = new Redis({
      port: primary.port,
      host: '127.0.0.1',
      username: 'admin',
      password: pw.admin,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    onPrimary.on('error', () => undefined);
    await onPrimary.call('CLIENT', 'KILL', 'TYPE', 'replica');
    const versionBefore = Number(await onPrimary.get(`${PREFIX}version`));
    await writer.upsert(s3.spec());
    await everyBalancerHas('s1,s2,s3', 'a write the replica never got');

    // Two contenders for the writer lease; the first wins it on the primary, where only it exists.
    const lease = (holder: string) =>
      new RedisLease({ target: target('controller'), key: `${PREFIX}controller-lease:net`, holder, ttlMs: 10_000, logger: silentLogger() });
    const a = lease('a');
    const b = lease('b');
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    await a.start();
    assert.equal(a.held, true, 'the first contender holds the lease');
    await b.start();
    assert.equal(b.held, false, 'the second stands by');
    let overlaps = 0;
    const watch = setInterval(() => {
      if (a.held && b.held) overlaps++;
    }, 2);
    closers.push(() => clearInterval(watch));
    const servedBefore = load.ok;

    // The primary dies; the replica thaws and is promoted without the last writes.
    const killedAt = performance.now();
    await primary.stop();
    onPrimary.disconnect();
    replica.signal('SIGCONT');
    await waitFor(
      'the sentinels to promote the replica',
      async () => (await Promise.all(sentinels.map((s) => s.primary().catch(() => undefined)))).every((p) => p === `127.0.0.1:${replica.port}`),
      30_000,
      100,
    );
    const promotedMs = Math.round(performance.now() - killedAt);
    const onNew = admin();
    assert.equal(
      Number(await onNew.get(`${PREFIX}version`)),
      versionBefore,
      'the promoted replica has the registry from before the cut: the version went back',
    );

    // No balancer stays on the lost list, though its version is above the registry's now.
    await everyBalancerHas('s1,s2', 'the promoted registry');
    // A backend written after the promotion takes the lost write's version number, with other content.
    await waitFor(
      'the writer to reach the new primary',
      () =>
        writer.upsert(s4.spec()).then(
          () => true,
          () => false,
        ),
      20_000,
      100,
    );
    assert.equal(Number(await onNew.get(`${PREFIX}version`)), versionBefore + 1);
    await everyBalancerHas('s1,s2,s4', 'a write after the promotion');

    // One contender holds the lease on the new primary, and never both at once.
    await waitFor('one contender to hold the lease again', () => a.held !== b.held, 30_000, 20);
    const holder = await onNew.get(`${PREFIX}controller-lease:net`);
    assert.equal(holder, a.held ? 'a' : 'b');
    clearInterval(watch);
    assert.equal(overlaps, 0, 'two contenders held the lease at once');

    // Requests kept flowing while Redis failed over.
    await waitFor('requests served after the promotion', () => load.ok > servedBefore + 200, 20_000, 50);
    load.stop = true;
    await loading;
    await client.close();
    assert.deepEqual(load.failures, [], 'no request failed');
    assert.equal(load.failed, 0);
    assert.ok(load.ok > 500, `served ${load.ok}`);
    for (const lb of balancers) {
      const r = json<{ registrySynced: boolean; registryConnected: boolean }>(await get(`${lb.admin}/readyz`));
      assert.deepEqual([r.registrySynced, r.registryConnected], [true, true]);
    }
    process.stdout.write(`# failover: promoted ${promotedMs} ms after the kill; ${load.ok} requests served, 0 failed\n`);
  });
});
