import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { toStackFile, type StackOptions } from '../../scripts/swarm-stack.js';

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as Record<string, unknown>;
const opts: StackOptions = { backends: 3, balancers: 1, publish: 'host', env: {} };
interface Svc {
  readonly deploy: {
    readonly labels?: Record<string, string>;
    readonly resources?: unknown;
    readonly restart_policy?: unknown;
    readonly placement?: unknown;
    readonly replicas?: number;
    readonly update_config?: { readonly order?: string };
    readonly endpoint_mode?: string;
  };
  readonly environment?: Record<string, string>;
  readonly volumes?: readonly Record<string, unknown>[];
  readonly user?: string;
  readonly [key: string]: unknown;
}
const services = (o: StackOptions = opts): Record<string, Svc> => toStackFile(compose, o).doc.services as Record<string, Svc>;
const composeServices = compose.services as Record<string, Record<string, unknown>>;

describe('the Swarm stack file, written from docker-compose.yml', () => {
  it('has every Compose service, with the same images, commands, secrets and health checks', () => {
    const c = composeServices;
    const s = services();
    assert.deepEqual(Object.keys(s).sort(), Object.keys(c).sort());
    for (const [name, svc] of Object.entries(s)) {
      for (const key of ['image', 'command', 'secrets', 'healthcheck', 'environment', 'networks', 'init', 'read_only', 'cap_drop', 'stop_grace_period']) {
        if (key === 'environment' && name === 'controller') continue;
        assert.deepEqual(svc[key], c[name]![key], `${name}.${key}`);
      }
    }
  });

  it('moves what Swarm reads elsewhere: labels, memory, restarts, tmpfs, the Redis config file, the socket group', () => {
    const s = services();
    assert.deepEqual(s.backend!.deploy.labels, { 'switchyard.enable': 'true', 'switchyard.port': '8081', 'switchyard.weight': '1' });
    assert.equal(s.backend!.labels, undefined);
    assert.deepEqual(s.balancer!.deploy.resources, { limits: { memory: '512m' } });
    assert.deepEqual(s.redis!.deploy.restart_policy, { condition: 'any', delay: '1s' });
    assert.deepEqual(
      s.redis!.volumes?.find((v) => v.type === 'tmpfs'),
      { type: 'tmpfs', target: '/tmp', tmpfs: { size: 16 * 1024 * 1024 } },
    );
    assert.deepEqual(s.redis!.configs, [{ source: 'redis_redis_conf', target: '/usr/local/etc/redis/redis.conf' }]);
    assert.deepEqual(toStackFile(compose, opts).doc.configs, { redis_redis_conf: { file: './redis/redis.conf' } });
    assert.match(String(s['docker-api']!.user), /^1000:\$\{DOCKER_GID/);
    for (const svc of Object.values(s))
      for (const k of ['build', 'scale', 'depends_on', 'restart', 'mem_limit', 'group_add', 'tmpfs']) assert.equal(svc[k], undefined, k);
  });

  it('runs the controller on a manager, following Swarm tasks, and updates backends start-first', () => {
    const s = services({ ...opts, backends: 5 });
    assert.equal(s.controller!.environment?.SWITCHYARD_SWARM, 'true');
    assert.deepEqual(s.controller!.deploy.placement, { constraints: ['node.role == manager'] });
    assert.deepEqual(s['docker-api']!.deploy.placement, { constraints: ['node.role == manager'] });
    assert.equal(s.backend!.deploy.replicas, 5);
    assert.equal(s.backend!.deploy.update_config?.order, 'start-first');
  });

  it('publishes the proxy in host mode with DNS round robin, or through the ingress mesh, and never the admin API', () => {
    const host = services({ ...opts, env: { SWITCHYARD_PUBLISH_PORT: '19290', SWITCHYARD_PUBLISH_TLS_PORT: '19293' } });
    assert.deepEqual(host.balancer!.ports, [
      { target: 9090, published: 19290, protocol: 'tcp', mode: 'host' },
      { target: 9443, published: 19293, protocol: 'tcp', mode: 'host' },
    ]);
    assert.equal(host.balancer!.deploy.endpoint_mode, 'dnsrr');
    const mesh = services({ ...opts, publish: 'ingress' });
    assert.deepEqual(mesh.balancer!.ports, [
      { target: 9090, published: 9090, protocol: 'tcp', mode: 'ingress' },
      { target: 9443, published: 9443, protocol: 'tcp', mode: 'ingress' },
    ]);
    assert.equal(mesh.balancer!.deploy.endpoint_mode, undefined);
    const notes = toStackFile(compose, opts).notes.join('\n');
    assert.match(notes, /9091 is not published/);
    assert.match(notes, /security_opt is not applied by docker stack deploy \(set on redis, balancer, docker-api, controller, backend\)/);
  });

  it('makes every network an overlay and keeps the internal ones internal', () => {
    const nets = toStackFile(compose, opts).doc.networks as Record<string, Record<string, unknown>>;
    for (const n of Object.values(nets)) assert.equal(n.driver, 'overlay');
    assert.equal(nets.registry!.internal, true);
    assert.equal(nets['docker-api']!.internal, true);
    // Only the network the balancers serve on takes containers started outside the stack.
    assert.deepEqual(
      Object.keys(nets).filter((k) => nets[k]!.attachable === true),
      ['switchyard'],
    );
  });
});
