import type { Redis } from 'ioredis';
import type { BackendSpec } from '../../common/backend.js';

/**
 * Writes the registry the way docs/registry.md tells other programs to:
 * one MULTI with the hash, the set and the version, then a PUBLISH. With
 * `publish: false` the message is "lost", so readers must catch up by polling.
 */
export async function writeBackend(redis: Redis, prefix: string, spec: BackendSpec, opts: { publish?: boolean } = {}): Promise<number> {
  const now = Date.now();
  const res = await redis
    .multi()
    .del(`${prefix}backend:${spec.id}`)
    .hset(
      `${prefix}backend:${spec.id}`,
      'url',
      spec.url,
      'weight',
      String(spec.weight),
      'state',
      spec.state,
      'labels',
      JSON.stringify(spec.labels),
      'updated_at',
      String(now),
    )
    .sadd(`${prefix}backends`, spec.id)
    .incr(`${prefix}version`)
    .set(`${prefix}version:at`, String(now))
    .exec();
  const version = Number(res![3]![1]);
  if (opts.publish !== false) await redis.publish(`${prefix}changes`, JSON.stringify({ version, op: 'upsert', id: spec.id, at: now }));
  return version;
}

export async function removeBackend(redis: Redis, prefix: string, id: string, opts: { publish?: boolean } = {}): Promise<number> {
  const now = Date.now();
  const res = await redis
    .multi()
    .srem(`${prefix}backends`, id)
    .del(`${prefix}backend:${id}`)
    .incr(`${prefix}version`)
    .set(`${prefix}version:at`, String(now))
    .exec();
  const version = Number(res![2]![1]);
  if (opts.publish !== false) await redis.publish(`${prefix}changes`, JSON.stringify({ version, op: 'remove', id, at: now }));
  return version;
}

/** Writes a raw, possibly malformed, hash entry. */
export async function writeRawEntry(redis: Redis, prefix: string, id: string, fields: Record<string, string>): Promise<void> {
  const flat = Object.entries(fields).flat();
  const m = redis.multi().del(`${prefix}backend:${id}`);
  if (flat.length) m.hset(`${prefix}backend:${id}`, ...flat);
  await m.sadd(`${prefix}backends`, id).incr(`${prefix}version`).exec();
  await redis.publish(`${prefix}changes`, '{"version":0}');
}
