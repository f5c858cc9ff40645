import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import type { BackendSpec } from '../../common/backend.js';
import { pino } from 'pino';
import { createLogger, silentLogger } from '../../common/logger.js';
import { RedisRegistry } from '../../common/registry/redis-registry.js';
import type { ContainerEvent, ContainerFacts, ContainerSource, ContainerSourceListener } from '../../controller/container-source.js';
import { DockerController } from '../../controller/controller.js';
import { RedisLease } from '../../controller/lease.js';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { HttpService } from '../../common/http-service.js';
import { createControllerMetrics } from '../../controller/metrics.js';
import { metricsHandler } from '../../controller/metrics-handler.js';
import { get } from '../helpers/http.js';
import { RedisServer } from '../helpers/redis-server.js';
import { writeBackend } from '../helpers/registry-writer.js';
import { sleep, waitFor } from '../helpers/wait.js';

const PREFIX = 'swytest:';
const NET = 'testnet';

/** An engine in memory: containers the test edits, events the test emits, a listing that can be slowed or broken. */
class FakeSource implements ContainerSource {
  containers = new Map<string, ContainerFacts>();
  listDelayMs = 0;
  failLists = false;
  lists = 0;
  #listener: ContainerSourceListener | undefined;

  watch(listener: ContainerSourceListener): void {
    this.#listener = listener;
  }
  async start(): Promise<void> {
    this.#listener?.connected();
  }
  async close(): Promise<void> {}
  async list(): Promise<ContainerFacts[]> {
    this.lists++;
    const snapshot = [...this.containers.values()];
    if (this.listDelayMs) await sleep(this.listDelayMs);
    if (this.failLists) throw new Error('connect ENOENT /var/run/docker.sock');
    return snapshot;
  }
  emit(action: string, id: string, signal?: number): void {
    const e: ContainerEvent = { action, containerId: id, name: this.containers.get(id)?.name ?? id, signal, at: Date.now() };
    this.#listener?.event(e);
  }
  add(name: string, ip: string, patch: Partial<ContainerFacts> = {}): ContainerFacts {
    const c: ContainerFacts = {
      id: `cid-${name}`,
      name,
      state: 'running',
      health: 'healthy',
      startedAt: Date.now() - 1000,
      labels: { 'switchyard.enable': 'true', 'switchyard.port': '8081' },
      networks: { [NET]: { ip } },
      ...patch,
    };
    this.containers.set(c.id, c);
    return c;
  }
  set(id: string, patch: Partial<ContainerFacts>): void {
    this.containers.set(id, { ...this.containers.get(id)!, ...patch });
  }
}

interface Rig {
  readonly source: FakeSource;
  readonly registry: RedisRegistry;
  readonly lease: RedisLease;
  readonly controller: DockerController;
  close(): Promise<void>;
}

describe('the controller against a real Redis', () => {
  let redis: RedisServer;
  let admin: Redis;
  let observer: RedisRegistry;
  const rigs: Rig[] = [];

  async function rig(holder: string, source = new FakeSource(), opts: { resyncMs?: number; leaseTtlMs?: number } = {}): Promise<Rig> {
    const registry = new RedisRegistry({
      target: { url: redis.url },
      prefix: PREFIX,
      pollIntervalMs: 100,
      logger: silentLogger(),
      redisOptions: { retryStrategy: () => 50 },
    });
    const lease = new RedisLease({
      target: { url: redis.url },
      key: `${PREFIX}controller-lease:${NET}`,
      holder,
      ttlMs: opts.leaseTtlMs ?? 1000,
      logger: silentLogger(),
      redisOptions: { retryStrategy: () => 50 },
    });
    const controller = new DockerController({
      settings: { network: NET, labelPrefix: 'switchyard', resyncIntervalMs: opts.resyncMs ?? 60_000, retryDelay: () => 100 },
      source,
      registry,
      lease,
      logger: process.env.TEST_DEBUG ? createLogger('controller', 'debug', pino.destination(2)) : silentLogger(),
    });
    await registry.start();
    await lease.start();
    await source.start();
    await controller.start();
    const r: Rig = {
      source,
      registry,
      lease,
      controller,
      close: async () => {
        await controller.close();
        await source.close();
        await lease.close();
        await registry.close();
      },
    };
    rigs.push(r);
    return r;
  }

  /** The registry as a balancer sees it: `id url state` lines. */
  const seen = (): string[] => observer.current().backends.map((b) => `${b.id} ${b.url} ${b.state}`);
  const until = (what: string, want: string[], timeoutMs = 3000): Promise<true> =>
    waitFor(what, () => JSON.stringify(seen()) === JSON.stringify(want) || undefined, timeoutMs, 5).catch((err: Error) => {
      throw new Error(`${err.message}; registry: ${JSON.stringify(seen())}`);
    });

  before(async () => {
    redis = await RedisServer.start();
    admin = redis.client();
    observer = new RedisRegistry({
      target: { url: redis.url },
      prefix: PREFIX,
      pollIntervalMs: 50,
      logger: silentLogger(),
      redisOptions: { retryStrategy: () => 50 },
    });
    await observer.start();
  });
  beforeEach(async () => {
    await Promise.all(rigs.splice(0).map((r) => r.close()));
    await admin.flushall();
    await waitFor('the observer to see the empty registry', () => observer.current().backends.length === 0, 3000, 5);
  });
  after(async () => {
    await Promise.all(rigs.splice(0).map((r) => r.close()));
    await observer.close();
    admin.disconnect();
    await redis.close();
  });

  it('on start registers the running containers, removes its own stale entries and leaves foreign ones', async () => {
    const foreign: BackendSpec = { id: 'static-1', url: 'http://192.168.5.5:80', weight: 1, state: 'active', labels: {} };
    const stale: BackendSpec = {
      id: 'gone_1',
      url: 'http://10.1.0.9:8081',
      weight: 1,
      state: 'active',
      labels: { source: 'docker', network: NET, container: 'cid-gone' },
    };
    const otherNet: BackendSpec = {
      id: 'elsewhere_1',
      url: 'http://10.2.0.9:8081',
      weight: 1,
      state: 'active',
      labels: { source: 'docker', network: 'other', container: 'x' },
    };
    for (const b of [foreign, stale, otherNet]) await writeBackend(admin, PREFIX, b);
    const source = new FakeSource();
    source.add('app_1', '10.1.0.2');
    source.add('app_2', '10.1.0.3');
    source.add('app_3', '10.1.0.4', { state: 'exited' });
    source.add('app_4', '10.1.0.5', { health: 'starting' });
    await rig('c1', source);
    await until('registry in step', [
      'app_1 http://10.1.0.2:8081 active',
      'app_2 http://10.1.0.3:8081 active',
      'elsewhere_1 http://10.2.0.9:8081 active',
      'static-1 http://192.168.5.5 active',
    ]);
  });

  it('drains on the stop signal at once, while the listing still says running, and removes on die', async (t: TestContext) => {
    const r = await rig('c1');
    r.source.add('app_1', '10.1.0.2');
    r.source.add('app_2', '10.1.0.3');
    r.source.emit('start', 'cid-app_2');
    await until('two backends', ['app_1 http://10.1.0.2:8081 active', 'app_2 http://10.1.0.3:8081 active']);
    // The listing is slow and still shows the container running: the event's write must win.
    r.source.listDelayMs = 300;
    const t0 = Date.now();
    r.source.emit('kill', 'cid-app_2', 15);
    await until('app_2 draining', ['app_1 http://10.1.0.2:8081 active', 'app_2 http://10.1.0.3:8081 draining']);
    const drainMs = Date.now() - t0;
    // A later full reconcile (listing: still running) keeps it draining.
    await sleep(700);
    assert.deepEqual(seen(), ['app_1 http://10.1.0.2:8081 active', 'app_2 http://10.1.0.3:8081 draining']);
    r.source.set('cid-app_2', { state: 'exited' });
    const t1 = Date.now();
    r.source.emit('die', 'cid-app_2');
    await until('app_2 gone', ['app_1 http://10.1.0.2:8081 active']);
    const removeMs = Date.now() - t1;
    t.diagnostic(`stop signal to draining seen: ${drainMs} ms; die to removal seen: ${removeMs} ms (listing takes 300 ms)`);
    assert.ok(drainMs < 250, `draining must not wait for the listing (${drainMs} ms)`);
    assert.ok(removeMs < 250, `removal must not wait for the listing (${removeMs} ms)`);
  });

  it('a restart after the stop signal makes the backend active again', async () => {
    const r = await rig('c1');
    r.source.add('app_1', '10.1.0.2');
    r.source.emit('start', 'cid-app_1');
    await until('one backend', ['app_1 http://10.1.0.2:8081 active']);
    r.source.emit('kill', 'cid-app_1', 15);
    await until('draining', ['app_1 http://10.1.0.2:8081 draining']);
    r.source.set('cid-app_1', { startedAt: Date.now() + 1, networks: { [NET]: { ip: '10.1.0.7' } } });
    r.source.emit('start', 'cid-app_1');
    await until('active at its new address', ['app_1 http://10.1.0.7:8081 active']);
  });

  it('pause and unhealthy take a backend out; unpause and healthy bring it back', async () => {
    const r = await rig('c1');
    r.source.add('app_1', '10.1.0.2');
    r.source.emit('start', 'cid-app_1');
    await until('one backend', ['app_1 http://10.1.0.2:8081 active']);
    // The engine changes the state, then reports it.
    r.source.set('cid-app_1', { state: 'paused' });
    r.source.emit('pause', 'cid-app_1');
    await until('out while paused', []);
    r.source.set('cid-app_1', { state: 'running' });
    r.source.emit('unpause', 'cid-app_1');
    await until('back after unpause', ['app_1 http://10.1.0.2:8081 active']);
    r.source.set('cid-app_1', { health: 'unhealthy' });
    r.source.emit('health_status: unhealthy', 'cid-app_1');
    await until('out while unhealthy', []);
    r.source.set('cid-app_1', { health: 'healthy' });
    r.source.emit('health_status: healthy', 'cid-app_1');
    await until('back when healthy', ['app_1 http://10.1.0.2:8081 active']);
  });

  it('a Docker listing failure deregisters nothing, and the reconcile retries until it works', async () => {
    const r = await rig('c1');
    r.source.add('app_1', '10.1.0.2');
    r.source.emit('start', 'cid-app_1');
    await until('one backend', ['app_1 http://10.1.0.2:8081 active']);
    r.source.failLists = true;
    r.source.containers.clear();
    r.source.emit('start', 'cid-new');
    const before = r.source.lists;
    await waitFor('retries', () => r.source.lists >= before + 3, 3000);
    assert.deepEqual(seen(), ['app_1 http://10.1.0.2:8081 active']);
    assert.ok(r.controller.status().failures >= 2);
    r.source.failLists = false;
    r.source.add('app_2', '10.1.0.3');
    await until('in step after recovery', ['app_2 http://10.1.0.3:8081 active']);
    // Regression: the writes can be seen in Redis a moment before the reconcile that made them
    // returns and resets the failure count, so the count is awaited, not read at once.
    await waitFor('the failure count to reset', () => r.controller.status().failures === 0, 2000, 5);
  });

  it('repairs an entry changed or deleted behind its back', async () => {
    const r = await rig('c1');
    r.source.add('app_1', '10.1.0.2');
    r.source.emit('start', 'cid-app_1');
    await until('one backend', ['app_1 http://10.1.0.2:8081 active']);
    await writeBackend(admin, PREFIX, {
      id: 'app_1',
      url: 'http://10.1.0.2:8081',
      weight: 1,
      state: 'draining',
      labels: { source: 'docker', network: NET, container: 'cid-app_1', name: 'app_1' },
    });
    await until('state repaired', ['app_1 http://10.1.0.2:8081 active']);
    await admin.del(`${PREFIX}backend:app_1`);
    await admin.srem(`${PREFIX}backends`, 'app_1');
    await admin.incr(`${PREFIX}version`);
    await until('entry restored', ['app_1 http://10.1.0.2:8081 active']);
  });

  it('after Redis comes back empty it writes everything again, including changes made while Redis was away', async (t: TestContext) => {
    const r = await rig('c1');
    r.source.add('app_1', '10.1.0.2');
    r.source.emit('start', 'cid-app_1');
    await until('one backend', ['app_1 http://10.1.0.2:8081 active']);
    await redis.stop(); // crash: the data is lost
    r.source.add('app_2', '10.1.0.3');
    r.source.emit('start', 'cid-app_2');
    await sleep(1500);
    const t0 = Date.now();
    await redis.start();
    await until('rewritten after the outage', ['app_1 http://10.1.0.2:8081 active', 'app_2 http://10.1.0.3:8081 active'], 8000);
    t.diagnostic(`registry rewritten ${Date.now() - t0} ms after Redis returned`);
  });

  it('only the lease holder writes; a standby takes over when the holder stops', async (t: TestContext) => {
    const shared = new FakeSource();
    shared.add('app_1', '10.1.0.2');
    const a = await rig('a', shared);
    await until('a registered app_1', ['app_1 http://10.1.0.2:8081 active']);
    const standbySource = new FakeSource();
    standbySource.containers = shared.containers;
    const b = await rig('b', standbySource);
    assert.equal(a.lease.held, true);
    assert.equal(b.lease.held, false);
    // An entry only the standby would remove: proves it does not write.
    const listsBefore = standbySource.lists;
    shared.add('app_2', '10.1.0.3');
    standbySource.emit('start', 'cid-app_2');
    await sleep(300);
    assert.equal(standbySource.lists, listsBefore, 'a standby does not even list');
    assert.deepEqual(seen(), ['app_1 http://10.1.0.2:8081 active']);
    // The holder goes away (closed); the standby takes over and catches up.
    const t0 = Date.now();
    await a.close();
    await until('b caught up', ['app_1 http://10.1.0.2:8081 active', 'app_2 http://10.1.0.3:8081 active'], 3000);
    t.diagnostic(`standby took over and reconciled in ${Date.now() - t0} ms`);
    assert.equal(b.lease.held, true);
  });

  it('counts events, reconciles and registry writes in /metrics, which passes promtool check metrics', async () => {
    const r = await rig('m1');
    const metrics = createControllerMetrics({
      instanceId: 'm1',
      counters: () => r.controller.counters(),
      status: () => r.controller.status(),
      registry: r.registry,
      processMetrics: false,
    });
    const service = new HttpService(
      'metrics',
      metricsHandler(metrics, () => r.controller.status()),
      { port: 0, host: '127.0.0.1' },
    );
    await service.start();
    try {
      const url = `http://127.0.0.1:${service.address.port}`;
      const sample = async (name: string, labels = ''): Promise<number> => {
        const { body } = await get(`${url}/metrics`);
        const line = body.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
        assert.ok(line, `${name} ${labels} is exposed`);
        return Number(line.slice(line.lastIndexOf(' ') + 1));
      };
      r.source.add('app_1', '10.1.0.2');
      r.source.add('app_2', '10.1.0.3');
      r.source.emit('start', 'cid-app_1');
      r.source.emit('start', 'cid-app_2');
      await until('both registered', ['app_1 http://10.1.0.2:8081 active', 'app_2 http://10.1.0.3:8081 active']);
      r.source.emit('kill', 'cid-app_2', 15);
      await until('app_2 draining', ['app_1 http://10.1.0.2:8081 active', 'app_2 http://10.1.0.3:8081 draining']);
      r.source.containers.delete('cid-app_2');
      r.source.emit('die', 'cid-app_2');
      await until('app_2 gone', ['app_1 http://10.1.0.2:8081 active']);
      await waitFor('the writes counted', async () => (await sample('switchyard_controller_registry_writes_total', 'kind="remove"')) >= 1, 3000);
      assert.equal(await sample('switchyard_controller_events_total', 'kind="register"'), 2);
      assert.equal(await sample('switchyard_controller_events_total', 'kind="drain"'), 1);
      assert.equal(await sample('switchyard_controller_events_total', 'kind="deregister"'), 1);
      assert.equal(await sample('switchyard_controller_registry_writes_total', 'kind="upsert"'), 2);
      assert.ok((await sample('switchyard_controller_registry_writes_total', 'kind="set-state"')) >= 1);
      assert.ok((await sample('switchyard_controller_reconciles_total')) >= 3);
      assert.equal(await sample('switchyard_controller_leader'), 1);
      assert.equal(await sample('switchyard_controller_desired_backends'), 1);
      assert.equal(await sample('switchyard_controller_registered_backends'), 1);
      assert.equal(await sample('switchyard_controller_docker_connected'), 1);
      const { body } = await get(`${url}/metrics`);
      const doc = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
      for (const [, name] of body.matchAll(/^# TYPE (switchyard_controller_[a-z_]+) /gm)) assert.match(doc, new RegExp(`\`${name}\``), `${name} is documented`);
      const check = spawnSync('promtool', ['check', 'metrics'], { input: body });
      assert.equal(check.error, undefined, 'promtool is installed (Debian package prometheus)');
      assert.equal(check.status, 0, `promtool: ${String(check.stdout)}${String(check.stderr)}`);
      const health = await get(`${url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal((await get(`${url}/nope`)).status, 404);
    } finally {
      await service.close();
    }
  });
});
