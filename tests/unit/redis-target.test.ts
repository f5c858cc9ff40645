import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadBalancerConfig } from '../../balancer/config.js';
import { deploymentVia } from '../../balancer/balancer-settings.js';
import { ConfigError } from '../../common/config/options.js';
import { describeRedisTarget, parseSentinel } from '../../common/registry/redis-connection.js';
import { loadControllerConfig } from '../../controller/config.js';

const balancer = (argv: string[], env: Record<string, string> = {}) => loadBalancerConfig({ argv, env }).config;
const controller = (argv: string[], env: Record<string, string> = {}) => {
  const r = loadControllerConfig({ argv: ['--network', 'n', ...argv], env });
  if (r.help) throw new Error('help');
  return r.config;
};

describe('where Redis is: one URL or Redis Sentinel', () => {
  it('keeps the registry in memory without --redis or --redis-sentinels', () => {
    assert.equal(balancer([]).redisTarget, undefined);
  });

  it('names one server by URL', () => {
    assert.deepEqual(balancer(['--redis', 'redis://balancer:pw@10.0.0.2:6380/1']).redisTarget, { url: 'redis://balancer:pw@10.0.0.2:6380/1' });
  });

  it('reads sentinels, the group name and the sentinel credentials from flags and the environment', () => {
    const t = controller([], {
      REDIS_SENTINELS: '10.0.0.5:26379, sentinel-2:26380,[::1]:26381',
      REDIS_MASTER_NAME: 'registry',
      REDIS_URL: 'redis://controller:pw@ignored:6379/2',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
    }).redisTarget;
    assert.deepEqual(t, {
      url: 'redis://controller:pw@ignored:6379/2',
      sentinels: [
        { host: '10.0.0.5', port: 26379 },
        { host: 'sentinel-2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'registry',
      sentinelPassword: 'sentinel-secret',
    });
    assert.ok(Object.isFrozen(t));
  });

  it('lets a controller use sentinels without --redis, and the group name defaults to switchyard', () => {
    assert.equal(controller(['--redis-sentinels', '127.0.0.1:26379']).redisTarget.masterName, 'switchyard');
  });

  it('refuses a bad sentinel address, naming the option', () => {
    for (const bad of ['127.0.0.1', '127.0.0.1:0', 'host:70000', 'a b:1', 'redis://h:26379']) {
      assert.throws(
        () => balancer(['--redis-sentinels', bad]),
        (e: unknown) => e instanceof ConfigError && e.message.includes('--redis-sentinels'),
        bad,
      );
    }
  });

  it('refuses sentinel credentials without sentinels rather than ignoring them', () => {
    assert.throws(
      () => balancer(['--redis', 'redis://r:6379', '--redis-sentinel-password', 'x']),
      (e: unknown) => e instanceof ConfigError && e.message.includes('--redis-sentinel-password needs --redis-sentinels'),
    );
    assert.throws(
      () => balancer(['--redis-sentinel-username', 'u']),
      (e: unknown) => e instanceof ConfigError && e.message.includes('--redis-sentinel-username needs --redis-sentinels'),
    );
  });

  it('still needs some Redis in the controller', () => {
    assert.throws(
      () => controller([]),
      (e: unknown) => e instanceof ConfigError && /--redis-sentinels/.test(e.message),
    );
  });

  it('describes a target without its passwords', () => {
    const t = controller(['--redis', 'redis://controller:s3cret@x:1', '--redis-sentinels', 'a:1,[::1]:2', '--redis-sentinel-password', 'p4ss']).redisTarget;
    const text = describeRedisTarget(t);
    assert.equal(text, 'sentinel switchyard as controller via a:1,[::1]:2');
    assert.equal(describeRedisTarget({ url: 'redis://u:s3cret@h:6379/0' }), 'redis://u:***@h:6379/0');
  });

  it('keeps the Via pseudonym of a URL deployment as it was before sentinels existed', () => {
    const c = balancer(['--redis', 'redis://balancer:pw@redis:6379']);
    assert.equal(deploymentVia(c), deploymentVia({ redisTarget: { url: 'redis://balancer:other@redis:6379' }, redisPrefix: c.redisPrefix, port: 1 }));
  });

  it('parses host:port and [v6]:port', () => {
    assert.deepEqual(parseSentinel('[fe80::1]:26379'), { host: 'fe80::1', port: 26379 });
    assert.throws(() => parseSentinel('nohost'));
  });
});
