import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../common/config/options.js';
import { loadControllerConfig } from '../../controller/config.js';

const load = (argv: string[], env: Record<string, string> = {}) => loadControllerConfig({ argv, env });

describe('controller configuration', () => {
  it('needs an explicit network: it never guesses', () => {
    assert.throws(() => load(['--redis', 'redis://r:6379']), (e: unknown) => e instanceof ConfigError && /--network/.test(e.message));
  });
  it('needs a Redis URL', () => {
    assert.throws(() => load(['--network', 'n']), (e: unknown) => e instanceof ConfigError && /--redis/.test(e.message));
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
    assert.equal(r.config.dockerSocket, '/var/run/docker.sock');
    assert.ok(Object.isFrozen(r.config));
  });
  it('rejects a bad network name and a too short lease, naming the option', () => {
    assert.throws(() => load(['--network', 'a b', '--redis', 'redis://r']), /--network/);
    assert.throws(() => load(['--network', 'n', '--redis', 'redis://r', '--lease-ttl', '200ms']), /--lease-ttl/);
  });
});
