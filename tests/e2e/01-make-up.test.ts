import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import {
  adminUrl,
  dockerCli,
  E2E,
  ensureCopy,
  expectedFromDocker,
  make,
  projectContainers,
  proxyUrl,
  redisClient,
  registryEntries,
  replica,
  run,
  waitFor,
} from './support/stack.js';

/**
 * Acceptance 1: from a clean copy of the project, `make up` builds and starts
 * the stack (with no image registry: from host-made base images) and
 * localhost answers from all 3 backends.
 */
let upOutput = '';

describe('make up from a clean clone', () => {
  it('starts Redis, balancer, controller and 3 backends, and the balancer answers from all 3', async (t: TestContext) => {
    await ensureCopy();
    // From nothing: no containers, no volume of a previous run.
    await make('down');
    // readiness: make up returns only once the admin API lists 3 routable backends (scripts/stack.sh wait_serving).
    const up = await make('up', { BACKENDS: 3 });
    upOutput = up.output;
    t.diagnostic(`make up: ${(up.ms / 1000).toFixed(1)} s`);

    const seen = new Map<string, number>();
    const hosts = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const res = await request(proxyUrl, { headersTimeout: 5000 });
      const body = (await res.body.json()) as { hostname: string };
      assert.equal(res.statusCode, 200);
      const b = String(res.headers['x-backend']);
      seen.set(b, (seen.get(b) ?? 0) + 1);
      hosts.add(body.hostname);
    }
    t.diagnostic(`30 GETs: ${[...seen.entries()].map(([k, v]) => `${k}=${v}`).join(' ')}`);
    assert.equal(seen.size, 3, `answers from ${[...seen.keys()].join(', ')}`);
    assert.equal(hosts.size, 3, 'three different containers answered');
    assert.deepEqual(
      [...seen.keys()].sort(),
      (await expectedFromDocker()).map((l) => l.split(' ')[0]),
    );
  });

  it('used the official images when they could be pulled, else base images made from this host', async (t: TestContext) => {
    const envFile = readFileSync(join(E2E.dir, '.env'), 'utf8');
    const nodeImage = /^NODE_IMAGE=(.*)$/m.exec(envFile)?.[1];
    const redisImage = /^REDIS_IMAGE=(.*)$/m.exec(envFile)?.[1];
    t.diagnostic(`NODE_IMAGE=${nodeImage} REDIS_IMAGE=${redisImage}`);
    if (!/cannot pull/.test(upOutput)) {
      assert.equal(nodeImage, 'node:26-bookworm-slim');
      assert.equal(redisImage, 'redis:7-alpine');
    } else {
      assert.match(nodeImage ?? '', /^switchyard-base\/node:/);
      assert.match(redisImage ?? '', /^switchyard-base\/redis:/);
    }
    const redis = await replica(1, 'redis');
    assert.equal(redis.Config.Image, redisImage);
  });

  it('is wired as specified: init, non-root, the socket only in the API proxy, admin on loopback, nothing else published', async () => {
    const balancer = await replica(1, 'balancer');
    const controller = await replica(1, 'controller');
    const backend = await replica(1, 'backend');
    const apiProxy = await replica(1, 'docker-api');
    for (const c of [balancer, controller, backend, apiProxy]) {
      assert.equal(c.HostConfig.Init, true, `${c.Name} runs under an init`);
      assert.equal(c.Config.User, 'node', `${c.Name} runs as the node user`);
    }
    assert.equal(
      controller.Mounts.find((m) => m.Destination === '/var/run/docker.sock'),
      undefined,
      'the controller has no Docker socket',
    );
    assert.ok(
      apiProxy.Mounts.find((m) => m.Destination === '/var/run/docker.sock'),
      'the API proxy holds the socket',
    );
    const ports = balancer.HostConfig.PortBindings as Record<string, { HostIp: string; HostPort: string }[]>;
    assert.deepEqual(ports['9091/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(E2E.adminPort) }]);
    assert.equal(ports['9090/tcp']?.[0]?.HostPort, String(E2E.port));
    assert.equal(ports['9443/tcp']?.[0]?.HostPort, String(E2E.tlsPort), 'HTTPS is published too');
    for (const svc of ['redis', 'controller', 'backend', 'docker-api']) {
      for (const info of await projectContainers(svc))
        assert.deepEqual(
          info.Ports.filter((p) => p.PublicPort),
          [],
          `${info.Names[0]} publishes nothing`,
        );
    }
    // The admin API answers on loopback.
    const res = await request(`${adminUrl}/readyz`);
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    // Backends carry a Docker HEALTHCHECK that passes.
    assert.equal(backend.State.Health?.Status, 'healthy');
    // The stack uses one explicitly named network.
    assert.ok(Object.keys(balancer.NetworkSettings.Networks).includes(E2E.network));
    assert.match(await dockerCli('network', 'inspect', '-f', '{{.Name}}', E2E.network), new RegExp(E2E.network));
  });

  it('serves HTTPS and HTTP/2 on the TLS port with a certificate from a local CA whose key stays in .tls/', async (t: TestContext) => {
    const caFile = join(E2E.dir, '.tls/ca.pem');
    assert.ok(upOutput.includes(`curl --cacert ${caFile} https://localhost:${E2E.tlsPort}/`), 'make up prints the line to try it');
    // curl and Node's http2 client both verify the chain for localhost.
    const curl = await run('curl', [
      '-sS',
      '--http2',
      '--cacert',
      caFile,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `https://localhost:${E2E.tlsPort}/`,
    ]);
    assert.equal(curl.output.trim(), '2 200', curl.output);
    const session = http2.connect(`https://localhost:${E2E.tlsPort}`, { ca: readFileSync(caFile) });
    session.on('error', () => undefined);
    try {
      const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const req = session.request({ ':path': '/' });
        req.on('response', resolve);
        req.on('error', reject);
        req.resume();
      });
      assert.equal(head[':status'], 200);
      assert.match(String(head['x-backend']), /.+/, 'served by a backend');
    } finally {
      session.close();
    }
    // The CA's key: owner-only on the host, absent from the image and from every container's mounts.
    assert.equal(statSync(join(E2E.dir, '.tls/ca.key')).mode & 0o777, 0o600);
    const keyLine = readFileSync(join(E2E.dir, '.tls/ca.key'), 'utf8').split('\n')[1]!;
    const found = await dockerCli(
      'run',
      '--rm',
      '--entrypoint',
      'node',
      E2E.image,
      '-e',
      "const fs=require('fs'),p=require('path');const hit=[];const walk=(d)=>{for(const e of fs.readdirSync(d,{withFileTypes:true})){const f=p.join(d,e.name);if(e.isDirectory())walk(f);else if(e.isFile()&&fs.statSync(f).size<1e6&&fs.readFileSync(f,'latin1').includes(process.argv[1]))hit.push(f)}};walk('/app');console.log(JSON.stringify(hit))",
      keyLine,
    );
    assert.equal(found.trim(), '[]', 'no file of the image holds the CA key');
    for (const info of await projectContainers())
      for (const m of info.Mounts) assert.ok(!String(m.Source).includes('/.tls'), `${info.Names[0]} mounts nothing of .tls/`);
    t.diagnostic(`HTTPS on localhost:${E2E.tlsPort}: HTTP/${curl.output.trim()}`);
  });

  it('the registry holds exactly the running backends, with owner labels', async () => {
    const redis = await redisClient();
    try {
      const entries = await waitFor(
        'registry = containers',
        async () => {
          const e = await registryEntries(redis);
          return JSON.stringify(e.map((b) => `${b.id} ${b.url}`)) === JSON.stringify(await expectedFromDocker()) ? e : undefined;
        },
        10_000,
      );
      for (const e of entries) {
        assert.equal(e.labels.source, 'docker');
        assert.equal(e.labels.network, E2E.network);
        assert.equal(e.labels.project, E2E.project);
        assert.equal(e.labels.service, 'backend');
        assert.match(e.labels.container ?? '', /^[0-9a-f]{64}$/);
        assert.equal(e.state, 'active');
      }
    } finally {
      redis.disconnect();
    }
  });
});
