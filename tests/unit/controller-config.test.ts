import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../common/config/options.js';
import { loadControllerConfig } from '../../controller/config.js';

const load = (argv: string[], env: Record<string, string> = {}) => loadControllerConfig({ argv, env });

describe('controller configuration', () => {
  it('needs an explicit network: it never guesses', () => {
    assert.throws(
      () => load(['--redis', 'redis://r:6379']),
      (e: unknown) => e instanceof ConfigError && /--network/.test(e.message),
    );
  });
  it('needs a Redis URL', () => {
    assert.throws(
      () => load(['--network', 'n']),
      (e: unknown) => e instanceof ConfigError && /--redis/.test(e.message),
    );
  });
  it('shows help without the required options', () => {
    assert.equal(load(['--help']).help, true);
  });
  it('reads flags and environment, with defaults', () => {
    const r = load([], { SWITCHYARD_NETWORK: 'sw', REDIS_URL: 'redis://redis:6379', SWITCHYARD_PROJECT: '' });
    assert.equal(r.help, false);
    if (r.help) return;
    assert.equal(r.config.network, 'sw');
    assert.equal(r.config.redis, 'redis://redis:6379');
    assert.equal(r.config.labelPrefix, 'switchyard');
    assert.equal(r.config.project, undefined, 'an empty SWITCHYARD_PROJECT means every project');
    assert.equal(r.config.resyncInterval, 10_000);
    assert.equal(r.config.leaseTtl, 6000);
    assert.deepEqual(r.config.docker, { socketPath: '/var/run/docker.sock' });
    assert.ok(Object.isFrozen(r.config));
  });
  it("reads the Docker endpoint from --docker-host or DOCKER_HOST (the docker CLI's variable)", () => {
    const base = ['--network', 'n', '--redis', 'redis://r'];
    const docker = (argv: string[], env: Record<string, string> = {}) => {
      const r = load([...base, ...argv], env);
      assert.equal(r.help, false);
      return r.help ? undefined : r.config.docker;
    };
    assert.deepEqual(docker([], { DOCKER_HOST: 'tcp://docker-api:2375' }), { host: 'docker-api', port: 2375 });
    assert.deepEqual(docker(['--docker-host', 'unix:///run/docker.sock'], { DOCKER_HOST: 'tcp://x:1' }), { socketPath: '/run/docker.sock' });
    assert.deepEqual(docker(['--docker-host', 'http://[::1]:2375']), { host: '::1', port: 2375 });
    assert.throws(() => load([...base, '--docker-host', 'tcp://docker-api']), /--docker-host/);
    assert.throws(() => load([...base, '--docker-host', 'ssh://user@host']), /--docker-host/);
  });
  it('rejects a bad network name and a too short lease, naming the option', () => {
    assert.throws(() => load(['--network', 'a b', '--redis', 'redis://r']), /--network/);
    assert.throws(() => load(['--network', 'n', '--redis', 'redis://r', '--lease-ttl', '200ms']), /--lease-ttl/);
  });
});
