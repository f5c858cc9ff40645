import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTROLLER_RULES, judge, replicaOnlyChange } from '../../controller/api-proxy/rules.js';
import { parseDockerHost } from '../../controller/docker-endpoint.js';

const allowed = (method: string, url: string): boolean => judge(CONTROLLER_RULES, method, url).ok;

describe('docker API allow list (controller)', () => {
  it('lets through exactly what the controller uses, versioned or not', () => {
    for (const url of [
      '/_ping',
      '/containers/json',
      '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22switchyard.enable%22%5D%7D',
      '/containers/3f2a9c1b/json',
      '/containers/swy_backend_1/json?size=false',
      '/events?filters=%7B%7D',
      '/v1.41/events',
      '/v1.45/containers/json',
      '/v1.41/services?filters=%7B%22label%22%3A%5B%22switchyard.enable%22%5D%7D',
      '/tasks?filters=%7B%22service%22%3A%5B%22abc%22%5D%7D',
    ]) {
      assert.ok(allowed('GET', url), url);
    }
    assert.ok(allowed('HEAD', '/_ping'));
  });

  it('refuses every write and every other read', () => {
    const refused: [string, string][] = [
      ['POST', '/containers/create'],
      ['POST', '/v1.41/containers/create'],
      ['POST', '/containers/abc/start'],
      ['POST', '/containers/abc/kill'],
      ['DELETE', '/containers/abc'],
      ['POST', '/containers/abc/exec'],
      ['POST', '/exec/abc/start'],
      ['GET', '/containers/abc/archive?path=/etc'],
      ['HEAD', '/containers/abc/archive?path=/etc'],
      ['GET', '/containers/abc/export'],
      ['GET', '/containers/abc/logs'],
      ['GET', '/containers/abc/attach/ws'],
      ['GET', '/images/json'],
      ['GET', '/info'],
      ['GET', '/secrets'],
      ['GET', '/swarm'],
      ['POST', '/services/create'],
      ['POST', '/services/abc/update'],
      ['DELETE', '/services/abc'],
      ['GET', '/services/abc/logs'],
      ['GET', '/tasks/abc/logs'],
      ['GET', '/nodes'],
      ['GET', '/configs'],
      ['POST', '/build'],
      ['PUT', '/containers/abc/archive'],
      ['POST', '/_ping'],
      ['GET', '/containers/json/'],
      ['GET', '/v1.41'],
      ['GET', '/vX/containers/json'],
    ];
    for (const [m, u] of refused) assert.equal(allowed(m, u), false, `${m} ${u}`);
  });

  it('refuses tricks on the path: dot segments, encodings, doubled slashes, absolute form', () => {
    for (const url of [
      '/containers/abc/../abc/archive',
      '/containers/../containers/json',
      '/containers/abc%2Farchive/json',
      '/containers/%2e%2e/json',
      '//containers/json',
      '/containers//json',
      '/containers/./json',
      'http://docker/containers/json',
      '*',
      '/containers/abc/json#x',
      '/containers/abc\\archive/json',
      '/v1.41/../containers/abc/archive',
    ]) {
      assert.equal(allowed('GET', url), false, url);
    }
  });
});

describe('a service update the autoscaler may make', () => {
  const current = { Name: 's', TaskTemplate: { ContainerSpec: { Image: 'a', Env: ['X=1'] } }, Mode: { Replicated: { Replicas: 3 } } };
  const next = (patch: (s: typeof current) => void): unknown => {
    const s = structuredClone(current);
    patch(s);
    return s;
  };
  it('is a change of the replica count alone', () => {
    assert.equal(
      replicaOnlyChange(
        current,
        next((s) => (s.Mode.Replicated.Replicas = 7)),
      ),
      undefined,
    );
    assert.equal(replicaOnlyChange(current, current), undefined);
  });
  it('names the first other change', () => {
    assert.match(
      String(
        replicaOnlyChange(
          current,
          next((s) => s.TaskTemplate.ContainerSpec.Env.push('NODE_OPTIONS=--require /x')),
        ),
      ),
      /Spec\.TaskTemplate\.ContainerSpec\.Env\[1\]/,
    );
    assert.match(
      String(
        replicaOnlyChange(
          current,
          next((s) => Object.assign(s, { Mode: { Global: {} } })),
        ),
      ),
      /no replica count/,
    );
    assert.match(
      String(
        replicaOnlyChange(
          { ...current, Mode: { Global: {} } },
          next((s) => (s.Mode.Replicated.Replicas = 2)),
        ),
      ),
      /not replicated/,
    );
    assert.match(
      String(
        replicaOnlyChange(
          current,
          next((s) => Object.assign(s, { EndpointSpec: { Ports: [{ PublishedPort: 22 }] } })),
        ),
      ),
      /Spec\.EndpointSpec/,
    );
  });
});

describe('docker host', () => {
  it('parses unix sockets and TCP addresses, rejects the rest', () => {
    assert.deepEqual(parseDockerHost('unix:///var/run/docker.sock'), { socketPath: '/var/run/docker.sock' });
    assert.deepEqual(parseDockerHost('/run/docker.sock'), { socketPath: '/run/docker.sock' });
    assert.deepEqual(parseDockerHost('tcp://docker-api:2375'), { host: 'docker-api', port: 2375 });
    assert.equal(parseDockerHost('unix://relative.sock'), undefined);
    assert.equal(parseDockerHost('tcp://host:99999'), undefined);
    assert.equal(parseDockerHost('npipe:////./pipe/docker_engine'), undefined);
  });
});
