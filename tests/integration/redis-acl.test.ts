import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { silentLogger } from '../../common/logger.js';
import { RedisEventPublisher } from '../../common/registry/redis-events.js';
import { RedisLoadBoard } from '../../common/registry/redis-load-board.js';
import { RedisRegistry } from '../../common/registry/redis-registry.js';
import { RedisLease } from '../../controller/lease.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis-server.js';
import { RedisEdgeStore } from '../../common/registry/redis-edge-store.js';
import { RedisAcmeStore } from '../../common/registry/redis-acme-store.js';
import { makeStackSecrets } from '../helpers/stack-secrets.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The Compose stack's Redis users (scripts/stack-secrets.sh), on a real
 * redis-server loaded with the ACL file the script writes: each role can do
 * what its program does, with the program's own code, and nothing more.
 */
describe('Redis credentials and per-role users', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-acl-'));
  let redis: RedisServer;
  const pw: Record<string, string> = {};
  const url = (user: string): string => `redis://${user}:${pw[user]}@127.0.0.1:${redis.port}`;
  const clients: Redis[] = [];
  const client = (u?: string): Redis => {
    const c = new Redis(u ?? `redis://127.0.0.1:${redis.port}`, { maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };

  before(async () => {
    Object.assign(pw, makeStackSecrets(dir).passwords);
    redis = await RedisServer.start({ args: ['--aclfile', join(dir, '.secrets/redis_users_acl')] });
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the credentials private and made once: .env 0600, .secrets 0700, hashes only in the ACL file', () => {
    assert.equal(statSync(join(dir, '.env')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, '.secrets')).mode & 0o777, 0o700);
    const acl = readFileSync(join(dir, '.secrets/redis_users_acl'), 'utf8');
    for (const p of Object.values(pw)) assert.ok(!acl.includes(p), 'no password in clear in the ACL file');
    const before = readFileSync(join(dir, '.env'), 'utf8');
    const out = execFileSync('bash', [join(dir, 'scripts/stack-secrets.sh')], { stdio: 'pipe', encoding: 'utf8' });
    assert.equal(readFileSync(join(dir, '.env'), 'utf8'), before, 'a second run keeps the credentials');
    for (const p of Object.values(pw)) assert.ok(!out.includes(p));
    assert.equal(readFileSync(join(dir, '.secrets/redis_balancer_url'), 'utf8'), `redis://balancer:${pw.balancer}@redis:6379\n`);
  });

  it('lets an unauthenticated client ping and nothing else', async () => {
    const anon = client();
    assert.equal(await anon.ping(), 'PONG');
    await assert.rejects(anon.set('switchyard:backend:evil', 'x'), /NOPERM/);
    await assert.rejects(anon.smembers('switchyard:backends'), /NOPERM/);
    await assert.rejects(anon.config('GET', 'requirepass'), /NOPERM/);
    await assert.rejects(client(`redis://balancer:wrong-password@127.0.0.1:${redis.port}`).ping(), /WRONGPASS|invalid username-password/);
  });

  it('lets the balancer role run the registry (read, write, subscribe) and nothing beyond it', async () => {
    const writer = new RedisRegistry({ target: { url: url('balancer') }, prefix: 'switchyard:', pollIntervalMs: 100, logger: silentLogger() });
    const reader = new RedisRegistry({ target: { url: url('balancer') }, prefix: 'switchyard:', pollIntervalMs: 60_000, logger: silentLogger() });
    await writer.start();
    await reader.start();
    try {
      let notified = 0;
      reader.subscribe(() => notified++);
      await writer.upsert({ id: 'b1', url: 'http://10.0.0.1:8081', weight: 1, state: 'active', labels: {} });
      await writer.setState('b1', 'draining');
      // The reader hears of it by pub/sub (its poll is a minute away).
      await waitFor('the reader to see b1 draining', () => reader.current().backends.find((b) => b.id === 'b1')?.state === 'draining');
      assert.ok(notified > 0);
      assert.equal(await writer.remove('b1'), true);
    } finally {
      await reader.close();
      await writer.close();
    }
    const raw = client(url('balancer'));
    await assert.rejects(raw.set('switchyard:controller-lease:net', 'me'), /NOPERM/, "the controller's lease is not the balancer's");
    await assert.rejects(raw.set('other:key', 'x'), /NOPERM/);
    await assert.rejects(raw.flushall(), /NOPERM/);
    await assert.rejects(raw.config('SET', 'dir', '/tmp'), /NOPERM/);
    await assert.rejects(raw.call('ACL', 'LIST'), /NOPERM/);
    await assert.rejects(raw.keys('*'), /NOPERM/);
  });

  it('lets the controller role hold the writer lease and write the registry', async () => {
    const lease = new RedisLease({
      target: { url: url('controller') },
      key: 'switchyard:controller-lease:net',
      holder: 'c1',
      ttlMs: 3000,
      logger: silentLogger(),
    });
    const registry = new RedisRegistry({ target: { url: url('controller') }, prefix: 'switchyard:', pollIntervalMs: 100, logger: silentLogger() });
    await lease.start();
    await registry.start();
    try {
      await waitFor('the lease', () => lease.held);
      await registry.upsert({ id: 'c-b1', url: 'http://10.0.0.2:8081', weight: 2, state: 'active', labels: {} });
      assert.equal(registry.current().backends.length >= 0, true);
      assert.equal(await registry.remove('c-b1'), true);
    } finally {
      await registry.close();
      await lease.close();
    }
    await assert.rejects(client(url('controller')).flushdb(), /NOPERM/);
  });

  it('lets balancers report their load and the controller add it up, and nobody else', async () => {
    const board = (user: string) => new RedisLoadBoard({ target: { url: url(user) }, prefix: 'switchyard:', ttlMs: 5000 });
    const [b1, b2, controller, observer] = [board('balancer'), board('balancer'), board('controller'), board('observer')];
    for (const b of [b1, b2, controller, observer]) await b.start();
    try {
      await b1.publish('lb-1', new Map([['s1', { inflight: 3, rps: 120.5 }]]));
      await b2.publish(
        'lb-2',
        new Map([
          ['s1', { inflight: 1, rps: 80 }],
          ['s2', { inflight: 0, rps: 7 }],
        ]),
      );
      const read = await controller.read();
      assert.equal(read.reporters, 2);
      assert.deepEqual(Object.fromEntries(read.byBackend), { s1: { inflight: 4, rps: 200.5 }, s2: { inflight: 0, rps: 7 } });
      await assert.rejects(observer.publish('lb-3', new Map()), /NOPERM/);
      assert.ok((await client(url('observer')).pttl('switchyard:load:lb-1')) > 0, 'a report expires');
    } finally {
      for (const b of [b1, b2, controller, observer]) await b.close();
    }
  });

  it('lets balancers share rate limits and bans (--edge-store redis), and nobody else', async () => {
    const changes: string[] = [];
    const store = (user: string) =>
      new RedisEdgeStore({ target: { url: url(user) }, prefix: 'switchyard:', timeoutMs: 1000, onChange: (c) => changes.push(`${c.kind} ${c.client}`) });
    const [b1, b2, observer] = [store('balancer'), store('balancer'), store('observer')];
    for (const s of [b1, b2, observer]) await s.start();
    try {
      assert.deepEqual(await b1.take('/=1/m burst 1', 'c1', 1 / 60, 1), { allowed: true, waitMs: 0 });
      assert.equal((await b2.take('/=1/m burst 1', 'c1', 1 / 60, 1)).allowed, false, 'one bucket for both');
      assert.equal(await b1.strike('c2', 'SWY_RATE_LIMITED', 60_000, 2, 60_000), 0);
      assert.ok((await b2.strike('c2', 'SWY_RATE_LIMITED', 60_000, 2, 60_000)) > 0, 'the second strike, through another balancer, bans');
      assert.deepEqual(
        (await b1.bans()).bans.map((b) => [b.client, b.reason]),
        [['c2', 'SWY_RATE_LIMITED']],
      );
      await waitFor('both heard the ban', () => changes.filter((c) => c === 'ban c2').length >= 2);
      await b2.lift('c2');
      assert.deepEqual((await b1.bans()).bans, []);
      await assert.rejects(observer.take('/=1/m burst 1', 'c3', 1, 1), /NOPERM|No permissions/);
      await assert.rejects(observer.strike('c3', 'x', 1000, 1, 1000), /NOPERM|No permissions/);
    } finally {
      for (const s of [b1, b2, observer]) await s.close();
    }
  });

  it('lets balancers keep automatic certificates, challenges and the renewer lease, and nobody else', async () => {
    const store = (user: string) => new RedisAcmeStore({ target: { url: url(user) }, prefix: 'switchyard:', onChange: () => undefined });
    const [b1, b2, observer] = [store('balancer'), store('balancer'), store('observer')];
    for (const s of [b1, b2, observer]) await s.start();
    try {
      await b1.putAccount('v1.sealed', 'https://ca/acct/1');
      await b1.putCertificate('a.test', { cert: 'CERT', sealedKey: 'v1.key', notAfter: 1 });
      assert.deepEqual(await b2.certificate('a.test'), { cert: 'CERT', sealedKey: 'v1.key', notAfter: 1 });
      await b1.putChallenge('tok', 'tok.auth', 60_000);
      assert.equal(await b2.challenge('tok'), 'tok.auth');
      assert.equal(await b1.takeLease('b1', 60_000), true);
      assert.equal(await b2.takeLease('b2', 60_000), false, 'one renewer at a time');
      await b1.releaseLease('b1');
      assert.equal(await b2.takeLease('b2', 60_000), true);
      await assert.rejects(observer.putCertificate('a.test', { cert: 'EVIL', sealedKey: 'x', notAfter: 2 }), /NOPERM|No permissions/);
      await assert.rejects(observer.putChallenge('tok2', 'x', 1000), /NOPERM|No permissions/);
    } finally {
      for (const s of [b1, b2, observer]) await s.close();
    }
  });

  it('lets the observer role read and follow the registry, never write it', async () => {
    const obs = client(url('observer'));
    assert.deepEqual(await obs.smembers('switchyard:backends'), []);
    await assert.rejects(obs.sadd('switchyard:backends', 'evil'), /NOPERM/);
    await assert.rejects(obs.hset('switchyard:backend:x', 'url', 'http://evil'), /NOPERM/);
    await assert.rejects(obs.publish('switchyard:changes', '{}'), /NOPERM/);
    await assert.rejects(obs.call('EVAL', "return redis.call('SADD', KEYS[1], 'evil')", '1', 'switchyard:backends'), /NOPERM|No permissions/);
  });

  it("shows the controller's announcements in a balancer's event log, and lets nobody else announce", async () => {
    const adminPort = await freePort();
    const lb = new SwitchyardProcess(['balancer', '--port', String(await freePort()), '--host', '127.0.0.1', '--admin-port', String(adminPort)], {
      REDIS_URL: url('balancer'),
    });
    const announcer = new RedisEventPublisher({ url: url('controller') }, 'switchyard:');
    await announcer.start();
    try {
      await lb.waitReady(`http://127.0.0.1:${adminPort}`);
      const scaled = async (): Promise<{ detail?: string }[]> => {
        const r = await fetch(`http://127.0.0.1:${adminPort}/stats`);
        const body = (await r.json()) as { events: { type: string; detail?: string }[] };
        return body.events.filter((e) => e.type === 'scaled');
      };
      // Published until one arrives: the balancer subscribes once its connection is ready.
      await waitFor(
        'the announcement in the event log',
        async () => {
          await announcer.publish({ kind: 'scaled', service: 'web', from: 2, to: 4, reason: 'load', at: Date.now() });
          return (await scaled()).length > 0;
        },
        10_000,
        200,
      );
      assert.equal((await scaled())[0]!.detail, 'web: 2 → 4 replicas; load');
      const obs = client(url('observer'));
      await assert.rejects(obs.publish('switchyard:events', '{}'), /NOPERM/);
      // A malformed message on the channel is dropped, not shown.
      const before = (await scaled()).length;
      const raw = client(url('controller'));
      await raw.publish('switchyard:events', JSON.stringify({ kind: 'scaled', service: 'x', from: -1, to: 2, reason: 'r', at: 1 }));
      await raw.publish('switchyard:events', 'not json');
      await announcer.publish({ kind: 'scaled', service: 'web', from: 4, to: 2, reason: 'idle', at: Date.now() });
      await waitFor('the next announcement', async () => (await scaled()).length === before + 1, 10_000, 100);
      assert.equal((await scaled()).at(-1)!.detail, 'web: 4 → 2 replicas; idle');
    } finally {
      await announcer.close();
      await lb.kill();
    }
  });

  it('gives a balancer its Redis URL as a file (REDIS_URL_FILE) and never logs the password', async () => {
    const file = join(dir, 'balancer-url');
    writeFileSync(file, `${url('balancer')}\n`, { mode: 0o600 });
    const adminPort = await freePort();
    const proc = new SwitchyardProcess(['balancer', '--port', String(await freePort()), '--host', '127.0.0.1', '--admin-port', String(adminPort)], {
      REDIS_URL_FILE: file,
    });
    try {
      await proc.waitReady(`http://127.0.0.1:${adminPort}`);
      // The line that names the registry (redacted) is written once the proxy listens, possibly after /readyz's first 200.
      await proc.waitForLog('', 10_000, (l) => JSON.stringify(l).includes(':***@'), true);
      const all = proc.lines.map((l) => JSON.stringify(l)).join('\n') + proc.stderr.join('\n');
      assert.ok(!all.includes(pw.balancer!), 'the password appears in no log line');
      assert.match(all, /balancer:\*{3,}@|redacted|\*\*\*/, 'the registry URL is logged redacted');
    } finally {
      await proc.kill();
    }
  });
});
