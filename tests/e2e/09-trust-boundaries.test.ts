import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import {
  adminAuth,
  docker,
  dockerCli,
  E2E,
  ensureStack,
  expectedFromDocker,
  make,
  nameOf,
  projectContainers,
  proxyUrl,
  redisClient,
  registryEntries,
  registryNetwork,
  replica,
  stackSecret,
  waitFor,
} from './support/stack.js';

/** Runs a Node script inside a container of the stack and returns what it printed. */
async function nodeIn(container: string, script: string): Promise<string> {
  return (await dockerCli('exec', container, 'node', '-e', script)).trim();
}

/** A fetch from inside a container; prints `<status>` or `ERR <code>`. */
function fetchScript(url: string, init: Record<string, unknown> = {}): string {
  return `fetch(${JSON.stringify(url)}, ${JSON.stringify(init)}).then(async (r) => { await r.arrayBuffer(); console.log(r.status) }, (e) => console.log('ERR ' + (e.cause?.code ?? e.message)))`;
}

/**
 * Trust boundaries of the Compose stack (issue 12), against the real engine:
 * the Docker socket is held by the filtering API proxy alone, Redis and the
 * admin API want credentials from every container, the containers drop
 * every capability, no secret is in any environment, and the backends' fault
 * API is not reachable through the proxy.
 */
describe("the Compose stack's trust boundaries", () => {
  let containers: Awaited<ReturnType<typeof projectContainers>>;
  before(async () => {
    await ensureStack(3);
    containers = await projectContainers(undefined, false);
  });
  after(async () => undefined);

  it('no container but the API proxy mounts the Docker socket', async () => {
    for (const info of containers) {
      const c = await docker.getContainer(info.Id).inspect();
      const service = c.Config.Labels['com.docker.compose.service'];
      const mounts = c.Mounts.filter((m) => /docker\.sock$/.test(m.Source ?? '') || m.Destination === '/var/run/docker.sock');
      if (service === 'docker-api') assert.equal(mounts.length, 1, 'the API proxy holds the socket');
      else assert.deepEqual(mounts, [], `${nameOf(c)} (${service}) has no Docker socket`);
    }
    const controller = nameOf(await replica(1, 'controller'));
    await assert.rejects(dockerCli('exec', controller, 'ls', '/var/run/docker.sock'), /No such file/);
  });

  it('the API proxy answers 403 to create and archive while the controller keeps the registry in step', async (t: TestContext) => {
    const controller = nameOf(await replica(1, 'controller'));
    const redis = nameOf(await replica(1, 'redis'));
    const create = await nodeIn(
      controller,
      fetchScript('http://docker-api:2375/v1.41/containers/create?name=evil', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Image: E2E.image, HostConfig: { Privileged: true, Binds: ['/:/host'] } }),
      }),
    );
    const createUnversioned = await nodeIn(
      controller,
      fetchScript('http://docker-api:2375/containers/create', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    );
    const archive = await nodeIn(controller, fetchScript(`http://docker-api:2375/containers/${redis}/archive?path=/data`));
    const exportIt = await nodeIn(controller, fetchScript(`http://docker-api:2375/v1.41/containers/${redis}/export`));
    const list = await nodeIn(controller, fetchScript('http://docker-api:2375/containers/json'));
    t.diagnostic(`from the controller: create ${create}, create (unversioned) ${createUnversioned}, archive ${archive}, export ${exportIt}, list ${list}`);
    assert.equal(create, '403');
    assert.equal(createUnversioned, '403');
    assert.equal(archive, '403');
    assert.equal(exportIt, '403');
    assert.equal(list, '200');
    assert.equal((await docker.listContainers({ all: true, filters: { name: ['evil'] } })).length, 0, 'no container was created');
    // The controller works through it: the registry equals the running backends.
    const r = await redisClient();
    try {
      await waitFor(
        'registry = containers',
        async () => JSON.stringify((await registryEntries(r)).map((b) => `${b.id} ${b.url}`)) === JSON.stringify(await expectedFromDocker()),
        15_000,
        200,
      );
    } finally {
      r.disconnect();
    }
    // Nobody else can reach the proxy: it is on a network only the controller joins.
    const backend = nameOf(await replica(1, 'backend'));
    assert.match(await nodeIn(backend, fetchScript('http://docker-api:2375/_ping')), /^ERR /);
  });

  it('from inside a backend container, Redis and the admin API refuse writes without credentials', async (t: TestContext) => {
    const backend = nameOf(await replica(1, 'backend'));
    // Backends are not on the registry network at all.
    const reach = await nodeIn(
      backend,
      `require('net').connect(6379, 'redis').on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => console.log('ERR ' + e.code))`,
    );
    t.diagnostic(`redis from a backend: ${reach}`);
    assert.match(reach, /^ERR /);
    // A container put on the registry network still cannot write without a password.
    const redisC = await replica(1, 'redis');
    const out = await dockerCli(
      'run',
      '--rm',
      '--network',
      registryNetwork(redisC),
      '--entrypoint',
      'redis-cli',
      String(redisC.Config.Image),
      '-h',
      'redis',
      'SET',
      `${E2E.prefix}backend:evil`,
      'x',
    ).catch((e: Error) => e.message);
    t.diagnostic(`unauthenticated SET on the registry network: ${out.trim()}`);
    assert.match(out, /NOPERM/);
    // The admin API from the backend's network: 401 without the token, for writes and reads.
    const body = JSON.stringify({ id: 'evil', url: 'http://203.0.113.1:80' });
    const write = await nodeIn(
      backend,
      fetchScript('http://balancer:9091/backends', { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
    );
    const read = await nodeIn(backend, fetchScript('http://balancer:9091/backends'));
    const foreignHost = await nodeIn(backend, fetchScript('http://balancer:9091/backends', { headers: { host: 'attacker.example' } }));
    t.diagnostic(`admin API from a backend: write ${write}, read ${read}`);
    assert.equal(write, '401');
    assert.equal(read, '401');
    assert.ok(['401', '403', '421'].includes(foreignHost), `foreign Host: ${foreignHost}`);
    const res = await request(`http://127.0.0.1:${E2E.adminPort}/backends`, { headers: adminAuth() });
    const ids = ((await res.body.json()) as { backends: { id: string }[] }).backends.map((b) => b.id);
    assert.ok(!ids.includes('evil'), 'nothing was registered');
  });

  it('every Switchyard container drops all capabilities, sets no-new-privileges, a read-only root and limits, and holds no secret in its environment', async () => {
    const secrets = ['SWITCHYARD_ADMIN_TOKEN', 'REDIS_BALANCER_PASSWORD', 'REDIS_CONTROLLER_PASSWORD', 'REDIS_OBSERVER_PASSWORD', 'SWITCHYARD_ACME_KEY'].map(
      stackSecret,
    );
    const services = new Set<string>();
    for (const info of containers) {
      const c = await docker.getContainer(info.Id).inspect();
      const name = nameOf(c);
      services.add(c.Config.Labels['com.docker.compose.service']!);
      assert.deepEqual(c.HostConfig.CapDrop, ['ALL'], `${name} drops every capability`);
      assert.deepEqual(c.HostConfig.CapAdd ?? [], [], `${name} adds none back`);
      assert.ok(
        ((c.HostConfig.SecurityOpt as string[] | undefined) ?? []).some((o) => /^no-new-privileges(:true)?$/.test(o)),
        `${name} sets no-new-privileges`,
      );
      assert.equal(c.HostConfig.ReadonlyRootfs, true, `${name} has a read-only root`);
      assert.ok((c.HostConfig.Memory ?? 0) > 0, `${name} has a memory limit`);
      assert.ok((c.HostConfig.PidsLimit ?? 0) > 0, `${name} has a pid limit`);
      assert.equal(c.HostConfig.Privileged, false);
      const env = (c.Config.Env ?? []).join('\n');
      for (const s of secrets) assert.ok(!env.includes(s), `${name}'s environment holds no secret`);
      assert.ok(!/REDIS_URL=|ADMIN_TOKEN=/.test(env), `${name} gets credentials as files only`);
    }
    assert.deepEqual([...services].sort(), ['backend', 'balancer', 'controller', 'docker-api', 'redis']);
    // .env keeps them, readable by its owner only.
    const envFile = join(E2E.dir, '.env');
    assert.equal((await import('node:fs')).statSync(envFile).mode & 0o777, 0o600);
    assert.ok(readFileSync(envFile, 'utf8').includes('SWITCHYARD_ADMIN_TOKEN='));
  });

  it("POST /fault through the proxy does not reach a backend's fault API", async () => {
    for (let i = 0; i < 6; i++) {
      const res = await request(`${proxyUrl}/fault`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ errorRate: 1, errorStatus: 503, hang: true }),
      });
      await res.body.dump();
      assert.notEqual(res.statusCode, 200, 'no backend accepted a fault through the proxy');
    }
    // Every backend still answers normally.
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const res = await request(proxyUrl, { headersTimeout: 3000 });
      await res.body.dump();
      assert.equal(res.statusCode, 200);
      seen.add(String(res.headers['x-backend']));
    }
    assert.equal(seen.size, 3);
  });

  it("the fault API answers on the backend's own loopback, by docker exec (make fault)", async () => {
    const set = await make('fault', { N: 1, FAULT: JSON.stringify({ latencyMs: 5 }) });
    assert.match(set.output, /"latencyMs":5/);
    const clear = await make('fault', { N: 1, FAULT: 'clear' });
    assert.match(clear.output, /"latencyMs":0/);
    // Not on the backend's network address: only its loopback.
    const b1 = await replica(1);
    const b2 = nameOf(await replica(2));
    assert.match(await nodeIn(b2, fetchScript(`http://${b1.NetworkSettings.Networks[E2E.network]!.IPAddress}:18081/fault`)), /^ERR /);
  });
});
