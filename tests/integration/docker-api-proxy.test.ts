import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { silentLogger } from '../../common/logger.js';
import { DockerApiProxy } from '../../controller/api-proxy/api-proxy.js';
import { CONTROLLER_RULES, REPLICA_UPDATE_RULE } from '../../controller/api-proxy/rules.js';
import { get, json } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The filtering Docker API proxy in front of an engine on a unix socket. The
 * engine here records every request that reaches it, so a refusal can be
 * shown to never reach it; the e2e suite runs the same proxy in front of the
 * real Docker engine.
 */
const SERVICE = {
  ID: 'svc1',
  Version: { Index: 41 },
  Spec: {
    Name: 'switchyard_backend',
    Labels: { 'switchyard.autoscale.max': '8' },
    TaskTemplate: { ContainerSpec: { Image: 'switchyard:local', Mounts: [] }, RestartPolicy: { Condition: 'any' } },
    Mode: { Replicated: { Replicas: 3 } },
  },
};

describe('docker API proxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-dockerapi-'));
  const socketPath = join(dir, 'docker.sock');
  const reached: string[] = [];
  const streams = new Set<ServerResponse>();
  let engine: Server;
  let proxy: DockerApiProxy;
  let base: string;

  const engineHandler = (req: IncomingMessage, res: ServerResponse): void => {
    reached.push(`${req.method} ${req.url}`);
    const path = (req.url ?? '').replace(/^\/v1\.\d+/, '').split('?')[0];
    if (path === '/_ping') return void res.end('OK');
    if (path === '/containers/json')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify([{ Id: 'c1', Names: ['/b1'], Labels: { 'switchyard.enable': 'true' }, State: 'running' }]));
    if (path === '/services/svc1' && req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(SERVICE));
    if (path?.startsWith('/services/') && req.method === 'GET')
      return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"no such service"}');
    if (path === '/containers/c1/json') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Id: 'c1', Name: '/b1' }));
    if (path === '/events') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ Type: 'container', Action: 'start', id: 'c1' }) + '\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    res.writeHead(200).end('the engine would have done this');
  };

  before(async () => {
    engine = createServer(engineHandler);
    await new Promise<void>((r) => engine.listen(socketPath, r));
    proxy = new DockerApiProxy({ port: 0, host: '127.0.0.1', docker: { socketPath }, rules: CONTROLLER_RULES, maxConnections: 8, logger: silentLogger() });
    await proxy.start();
    base = `http://127.0.0.1:${proxy.address.port}`;
  });

  after(async () => {
    for (const s of streams) s.end();
    await proxy.close();
    engine.closeAllConnections();
    await new Promise<void>((r) => engine.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the controller's calls through dockerode, the event stream included", async () => {
    const docker = new Docker({ host: '127.0.0.1', port: proxy.address.port, protocol: 'http' });
    const list = await docker.listContainers({ all: true, filters: { label: ['switchyard.enable'] } });
    assert.equal(list[0]!.Id, 'c1');
    const info = await docker.getContainer('c1').inspect();
    assert.equal(info.Name, '/b1');
    const events = (await docker.getEvents({ filters: { type: ['container'] } })) as NodeJS.ReadableStream & { destroy(): void };
    const first = await new Promise<string>((resolve) => events.once('data', (c: Buffer) => resolve(c.toString())));
    assert.match(first, /"Action":"start"/);
    // The stream stays open: a later engine event arrives too.
    const second = new Promise<string>((resolve) => events.once('data', (c: Buffer) => resolve(c.toString())));
    for (const s of streams) s.write(JSON.stringify({ Type: 'container', Action: 'die', id: 'c1' }) + '\n');
    assert.match(await second, /"Action":"die"/);
    events.destroy();
    await waitFor('the engine side of the stream to close', () => streams.size === 0);
  });

  it('answers 403 to everything else, and nothing of it reaches the engine', async () => {
    const before = reached.length;
    const attempts: [string, string, string?][] = [
      ['POST', '/containers/create', '{"Image":"alpine","HostConfig":{"Privileged":true,"Binds":["/:/host"]}}'],
      ['POST', '/v1.41/containers/create', '{}'],
      ['GET', '/containers/c1/archive?path=/etc/shadow'],
      ['GET', '/v1.41/containers/c1/export'],
      ['GET', '/containers/c1/logs?stdout=1'],
      ['POST', '/containers/c1/exec', '{"Cmd":["sh"]}'],
      ['DELETE', '/containers/c1'],
      ['GET', '/containers/c1/../c1/archive'],
      ['GET', '/containers/c1%2F..%2Fc1/archive'],
      ['GET', '/images/json'],
      ['GET', '/info'],
      ['GET', '/containers/json', 'a body on a read'],
    ];
    for (const [method, url, body] of attempts) {
      const r = await get(base + url, { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
      assert.equal(r.status, 403, `${method} ${url}`);
      assert.match(json<{ message: string }>(r).message, /not allowed/);
    }
    assert.deepEqual(reached.slice(before), [], 'no refused request reached the engine');
    assert.ok(proxy.denied >= attempts.length);
  });

  it('refuses an upgrade (attach, exec) and a request in absolute form', async () => {
    const before = reached.length;
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect(proxy.address.port, '127.0.0.1');
      let got = '';
      s.on('data', (c) => (got += c.toString()));
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.write(
        'POST /containers/c1/attach?stream=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nGET http://docker/containers/json HTTP/1.1\r\nHost: x\r\n\r\n',
      );
    });
    assert.match(reply, /^HTTP\/1\.1 403/);
    assert.equal(reached.length, before);
  });

  it('admits a service update that changes the replica count alone, with --allow-replica-updates only', async () => {
    const guarded = new DockerApiProxy({
      port: 0,
      host: '127.0.0.1',
      docker: { socketPath },
      rules: [...CONTROLLER_RULES, REPLICA_UPDATE_RULE],
      maxConnections: 8,
      logger: silentLogger(),
    });
    await guarded.start();
    const at = `http://127.0.0.1:${guarded.address.port}`;
    const post = (url: string, spec: unknown, headers: Record<string, string> = {}) =>
      get(url, { method: 'POST', body: JSON.stringify(spec), headers: { 'content-type': 'application/json', ...headers } });
    const spec = (patch: (s: typeof SERVICE.Spec) => void): Record<string, unknown> => {
      const s = structuredClone(SERVICE.Spec);
      patch(s);
      return s;
    };
    try {
      // Through dockerode, as the autoscaler does it: the version in the query, the spec alone in the body.
      const docker = new Docker({ host: '127.0.0.1', port: guarded.address.port, protocol: 'http' });
      const before = reached.length;
      await docker.getService('svc1').update({ _query: { version: 41 }, _body: spec((s) => (s.Mode.Replicated.Replicas = 5)) } as never);
      assert.ok(
        reached.slice(before).some((r) => /^POST (\/v[\d.]+)?\/services\/svc1\/update\?version=41$/.test(r)),
        `the update reached the engine: ${reached.slice(before).join(', ')}`,
      );

      const refused: [string, unknown, RegExp][] = [
        [
          '/services/svc1/update?version=41',
          spec((s) => (s.TaskTemplate.ContainerSpec.Image = 'evil:latest')),
          /changes Spec\.TaskTemplate\.ContainerSpec\.Image/,
        ],
        ['/services/svc1/update?version=41', spec((s) => s.TaskTemplate.ContainerSpec.Mounts.push({ Source: '/', Target: '/host' } as never)), /Mounts/],
        ['/services/svc1/update?version=41', spec((s) => (s.Labels['switchyard.autoscale.max'] = '100')), /Labels/],
        ['/services/svc1/update?version=41', spec((s) => ((s.Mode.Replicated as { Replicas: unknown }).Replicas = 'many')), /no replica count/],
        [
          '/services/svc1/update?version=41&registryAuthFrom=previous-spec',
          spec((s) => (s.Mode.Replicated.Replicas = 4)),
          /query parameters other than version/,
        ],
        ['/services/svc1/update', spec((s) => (s.Mode.Replicated.Replicas = 4)), /version query parameter/],
        [
          '/services/other/update?version=1',
          spec((s) => (s.Mode.Replicated.Replicas = 4)),
          /could not be checked: the engine answered 404 to GET \/services\/other/,
        ],
      ];
      const mark = reached.length;
      for (const [url, body, why] of refused) {
        const r = await post(at + url, body);
        assert.equal(r.status, 403, url);
        assert.match(json<{ message: string }>(r).message, why);
      }
      assert.deepEqual(
        reached.slice(mark).filter((r) => r.startsWith('POST')),
        [],
        'no refused update reached the engine',
      );
      // Without the flag the same update is refused before anything is read.
      const plain = await post(
        `${base}/services/svc1/update?version=41`,
        spec((s) => (s.Mode.Replicated.Replicas = 4)),
      );
      assert.equal(plain.status, 403);
      assert.match(json<{ message: string }>(plain).message, /not on the allow list/);
    } finally {
      await guarded.close();
    }
  });

  it('answers 502 when the engine is gone, and recovers with it', async () => {
    const down = new DockerApiProxy({
      port: 0,
      host: '127.0.0.1',
      docker: { socketPath: join(dir, 'missing.sock') },
      rules: CONTROLLER_RULES,
      maxConnections: 8,
      logger: silentLogger(),
    });
    await down.start();
    try {
      const r = await get(`http://127.0.0.1:${down.address.port}/_ping`);
      assert.equal(r.status, 502);
    } finally {
      await down.close();
    }
    assert.equal((await get(base + '/_ping')).status, 200);
  });
});
