import { parseBackendSpec, type BackendSpec, type ParseResult } from '../backend.js';

/**
 * The Redis key schema (docs/registry.md). With the default prefix
 * `switchyard:`:
 *
 *   switchyard:backends        SET of backend ids
 *   switchyard:backend:<id>    HASH url, weight, state, labels (JSON object), updated_at (ms)
 *   switchyard:version         STRING integer, INCR on every change
 *   switchyard:changes         pub/sub channel; message {"version":N,"op":..,"id":..,"at":ms}
 *
 * Writers change a backend hash, the set and the version in one MULTI or
 * script, then publish. Readers reload on a message and also poll the version,
 * because pub/sub delivery is at most once.
 */
export interface RedisKeys {
  readonly prefix: string;
  readonly backends: string;
  readonly version: string;
  readonly channel: string;
  backend(id: string): string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    prefix,
    backends: `${prefix}backends`,
    version: `${prefix}version`,
    channel: `${prefix}changes`,
    backend: (id: string) => `${prefix}backend:${id}`,
  };
}

/** Field/value pairs for the backend hash, in schema order (without updated_at). */
export function encodeBackend(spec: BackendSpec): string[] {
  return ['url', spec.url, 'weight', String(spec.weight), 'state', spec.state, 'labels', JSON.stringify(sortedLabels(spec.labels))];
}

function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
  return out;
}

/** Decodes one backend hash read from Redis; a reason when it is malformed. */
export function decodeBackend(id: string, fields: Readonly<Record<string, string>>): ParseResult<BackendSpec> {
  if (Object.keys(fields).length === 0) return { ok: false, reason: 'listed in the set but its hash is missing' };
  let labels: unknown = undefined;
  if (fields.labels !== undefined && fields.labels !== '') {
    try {
      labels = JSON.parse(fields.labels);
    } catch {
      return { ok: false, reason: 'labels is not valid JSON' };
    }
  }
  return parseBackendSpec({ id, url: fields.url, weight: fields.weight, state: fields.state, labels });
}

export interface ChangeMessage {
  readonly version: number;
  readonly at?: number;
}

export function parseChangeMessage(text: string): ChangeMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m === 'number') return Number.isInteger(m) ? { version: m } : undefined;
  const o = m as { version?: unknown; at?: unknown } | null;
  if (o === null || typeof o !== 'object' || typeof o.version !== 'number') return undefined;
  return typeof o.at === 'number' ? { version: o.version, at: o.at } : { version: o.version };
}

/**
 * Reads the whole registry atomically.
 * KEYS: backends set, version. ARGV: backend key prefix.
 * Returns [version, updated_at, id1, [f, v, ...], id2, [...], ...].
 */
export const SNAPSHOT_SCRIPT = `
local ids = redis.call('SMEMBERS', KEYS[1])
local out = { redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[2] .. ':at') or '0' }
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. id)
end
return out
`;

/**
 * Idempotent upsert: writes only when a field differs, so a reconcile that
 * changes nothing does not bump the version.
 * KEYS: backends set, backend hash, version. ARGV: id, now ms, channel, f1, v1, ...
 * Returns the new version, or 0 when nothing changed.
 */
export const UPSERT_SCRIPT = `
local key = KEYS[2]
local changed = redis.call('EXISTS', key) == 0 or redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0
if not changed then
  local nfields = 0
  for i = 4, #ARGV, 2 do
    nfields = nfields + 1
    if redis.call('HGET', key, ARGV[i]) ~= ARGV[i + 1] then changed = true break end
  end
  if not changed and redis.call('HLEN', key) ~= nfields + 1 then changed = true end
end
if not changed then return 0 end
redis.call('DEL', key)
redis.call('HSET', key, 'updated_at', ARGV[2], unpack(ARGV, 4))
redis.call('SADD', KEYS[1], ARGV[1])
local v = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[3] .. ':at', ARGV[2])
redis.call('PUBLISH', ARGV[3], cjson.encode({ version = v, op = 'upsert', id = ARGV[1], at = tonumber(ARGV[2]) }))
return v
`;

/**
 * KEYS: backends set, backend hash, version. ARGV: id, now ms, channel.
 * Returns the new version, or 0 when the id was not registered.
 */
export const REMOVE_SCRIPT = `
local had = redis.call('SREM', KEYS[1], ARGV[1]) + redis.call('DEL', KEYS[2])
if had == 0 then return 0 end
local v = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[3] .. ':at', ARGV[2])
redis.call('PUBLISH', ARGV[3], cjson.encode({ version = v, op = 'remove', id = ARGV[1], at = tonumber(ARGV[2]) }))
return v
`;

/**
 * KEYS: backends set, backend hash, version. ARGV: id, now ms, channel, state.
 * Returns -1 when the id is not registered, 0 when the state was already set, else the new version.
 */
export const SET_STATE_SCRIPT = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if redis.call('HGET', KEYS[2], 'state') == ARGV[4] then return 0 end
redis.call('HSET', KEYS[2], 'state', ARGV[4], 'updated_at', ARGV[2])
local v = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[3] .. ':at', ARGV[2])
redis.call('PUBLISH', ARGV[3], cjson.encode({ version = v, op = 'state', id = ARGV[1], at = tonumber(ARGV[2]) }))
return v
`;
