import { redisTargetFrom, type RedisTarget, type RedisTargetValues } from '../registry/redis-connection.js';
import { ConfigError, option } from './options.js';
import { hostPort, listOf, redisUrl, text } from './values.js';

/**
 * The options that say where Redis is, the same in every program that uses
 * it: one server by URL, or a group watched by Redis Sentinel.
 */
export function redisOptions(urlHelp: string) {
  return {
    redis: option({
      type: redisUrl(),
      flag: 'redis',
      env: ['REDIS_URL', 'SWITCHYARD_REDIS_URL'],
      help: urlHelp,
      group: 'Registry',
      secret: true,
    }),
    redisSentinels: option({
      type: listOf(hostPort(), 'host:port addresses'),
      flag: 'redis-sentinels',
      env: ['REDIS_SENTINELS', 'SWITCHYARD_REDIS_SENTINELS'],
      default: [] as string[],
      help: 'Redis Sentinel addresses (host:port,...): the registry is then the primary they name for --redis-master-name, found again after a failover; --redis gives only the user, password and database, and its host is not used.',
      group: 'Registry',
    }),
    redisMasterName: option({
      type: text({ min: 1, max: 128, pattern: /^[A-Za-z0-9_.-]+$/, expected: 'letters, digits and _ . -' }),
      flag: 'redis-master-name',
      env: ['REDIS_MASTER_NAME', 'SWITCHYARD_REDIS_MASTER_NAME'],
      default: 'switchyard',
      help: "Name of the Redis group in the sentinels' configuration (sentinel monitor <name> ...); only with --redis-sentinels.",
      group: 'Registry',
    }),
    redisSentinelUsername: option({
      type: text({ min: 1, max: 128 }),
      flag: 'redis-sentinel-username',
      env: ['REDIS_SENTINEL_USERNAME', 'SWITCHYARD_REDIS_SENTINEL_USERNAME'],
      help: 'User to authenticate to the sentinels as (Redis 6.2 ACL); only with --redis-sentinels.',
      group: 'Registry',
    }),
    redisSentinelPassword: option({
      type: text({ min: 1, max: 512 }),
      flag: 'redis-sentinel-password',
      env: ['REDIS_SENTINEL_PASSWORD', 'SWITCHYARD_REDIS_SENTINEL_PASSWORD'],
      help: "The sentinels' password (their requirepass, or the user's); only with --redis-sentinels.",
      group: 'Registry',
      secret: true,
    }),
  } as const;
}

/** The Redis a program's options name (undefined: none), refusing sentinel credentials without sentinels. */
export function loadRedisTarget(values: RedisTargetValues): RedisTarget | undefined {
  if (values.redisSentinels.length === 0) {
    if (values.redisSentinelUsername !== undefined) throw new ConfigError('--redis-sentinel-username needs --redis-sentinels');
    if (values.redisSentinelPassword !== undefined) throw new ConfigError('--redis-sentinel-password needs --redis-sentinels');
  }
  return redisTargetFrom(values);
}
