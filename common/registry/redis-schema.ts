import { isBackendId, parseBackendSpec, type BackendSpec, type ParseResult } from '../backend.js';

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
  /** When the version last changed (ms); with the version, it tells a registry that went back apart from one that did not move. */
  readonly versionAt: string;
  readonly channel: string;
  backend(id: string): string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    prefix,
    backends: `${prefix}backends`,
    version: `${prefix}version`,
    versionAt: `${prefix}version:at`,
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

/** The backend hash fields a snapshot reads, in the order the snapshot script returns them. */
export const ENTRY_FIELDS = ['url', 'weight', 'state', 'labels', 'updated_at'] as const;

/** A hash field longer than this is not read: the entry is skipped (our own writers stay far below it). */
export const MAX_FIELD_BYTES = 16_384;

/** An id in the set longer than this is not looked up; the snapshot reports it cut short. */
const MAX_ID_BYTES = 128;

/**
 * Reads the whole registry atomically and never fails on a bad entry.
 * KEYS: backends set, version. ARGV: backend key prefix, MAX_FIELD_BYTES.
 * Returns {'ok', version, version_at, id1, entry1, id2, entry2, ...} where an
 * entry is the ENTRY_FIELDS values (nil when absent) or, for an entry that
 * cannot be read as a backend hash, a string saying why. Version and
 * version_at are '' when absent.
 * Returns {'error', reason} when the set or the version key has the wrong
 * type: the registry as a whole cannot be read.
 *
 * It calls only GET, SMEMBERS, HLEN and HGET (redis.pcall where a key may
 * have the wrong type), the commands the stack's ACL users already have
 * (scripts/stack-secrets.sh): TYPE, HSTRLEN or HMGET would be refused there.
 */
export const SNAPSHOT_SCRIPT = `
local function failed(r) return type(r) == 'table' and r.err ~= nil end
local ids = redis.pcall('SMEMBERS', KEYS[1])
if failed(ids) then return { 'error', KEYS[1] .. ' cannot be read as a set: ' .. ids.err } end
local version = redis.pcall('GET', KEYS[2])
if failed(version) then return { 'error', KEYS[2] .. ' cannot be read as a string: ' .. version.err } end
local at = redis.pcall('GET', KEYS[2] .. ':at')
if failed(at) or not at then at = '' end
local limit = tonumber(ARGV[2])
local fields = { ${ENTRY_FIELDS.map((f) => `'${f}'`).join(', ')} }
local out = { 'ok', string.sub(version or '', 1, 40), string.sub(at, 1, 40) }
for _, id in ipairs(ids) do
  local entry
  if #id > ${MAX_ID_BYTES} then
    entry = 'id is ' .. #id .. ' bytes long, over ${MAX_ID_BYTES}'
    id = string.sub(id, 1, 64) .. ' [cut]'
  else
    local key = ARGV[1] .. id
    local n = redis.pcall('HLEN', key)
    if failed(n) then
      local s = redis.pcall('GET', key)
      entry = 'wrong type: ' .. (failed(s) and 'not a hash' or 'string, not a hash')
    elseif n == 0 then
      entry = 'listed in the set but its hash is missing'
    else
      local values = {}
      for i, f in ipairs(fields) do
        local v = redis.call('HGET', key, f)
        if v and #v > limit then
          entry = 'field ' .. f .. ' is ' .. #v .. ' bytes, over the ' .. limit .. '-byte limit'
          break
        end
        values[i] = v
      end
      if entry == nil then entry = values end
    end
  end
  out[#out + 1] = id
  out[#out + 1] = entry
end
return out
`;

/** One registry entry left out of a snapshot, and why. */
export interface SkippedEntry {
  readonly id: string;
  readonly reason: string;
  /** The fields read, for the warning; absent when the entry was not read (wrong type, too large). */
  readonly fields?: Readonly<Record<string, string>>;
}

export interface DecodedSnapshot {
  readonly version: number;
  readonly changedAt?: number;
  /** Sorted by id. */
  readonly backends: readonly BackendSpec[];
  /** Sorted by id. */
  readonly skipped: readonly SkippedEntry[];
}

const VERSION_PATTERN = /^\d{1,15}$/;

/** The version's change time as stored (ms since the epoch), or undefined when absent or not a number. */
export function parseVersionAt(raw: unknown): number | undefined {
  const text = String(raw ?? '');
  return VERSION_PATTERN.test(text) ? Number(text) || undefined : undefined;
}

/**
 * Decodes the snapshot script's reply: every entry is validated on its own and
 * a bad one is skipped with its reason. Fails only when the registry as a
 * whole cannot be read (a wrong-typed set or version key, a version that is
 * not a non-negative integer), with the reason.
 */
export function decodeSnapshot(raw: unknown, keys: RedisKeys): ParseResult<DecodedSnapshot> {
  const steps = decodeSnapshotInSteps(raw, keys, Infinity);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * decodeSnapshot() cut into steps: it pauses (yields) after every `entriesPerStep`
 * entries, so a caller can let the event loop turn between them (10,000 entries
 * take tens of milliseconds), and returns the same result at the end.
 */
export function* decodeSnapshotInSteps(raw: unknown, keys: RedisKeys, entriesPerStep: number): Generator<void, ParseResult<DecodedSnapshot>> {
  if (!Array.isArray(raw) || raw.length < 1) return { ok: false, reason: 'the snapshot script returned no reply' };
  if (raw[0] === 'error') return { ok: false, reason: String(raw[1] ?? 'the snapshot script failed') };
  if (raw[0] !== 'ok' || raw.length < 3) return { ok: false, reason: 'the snapshot script returned an unexpected reply' };
  const versionText = String(raw[1] ?? '');
  if (versionText !== '' && !VERSION_PATTERN.test(versionText)) {
    return { ok: false, reason: `${keys.version} holds '${clip(versionText, 40)}', not a non-negative integer` };
  }
  const version = versionText === '' ? 0 : Number(versionText);
  const changedAt = parseVersionAt(raw[2]);
  const backends: BackendSpec[] = [];
  const skipped: SkippedEntry[] = [];
  let inStep = 0;
  for (let i = 3; i + 1 < raw.length; i += 2) {
    if (++inStep > entriesPerStep) {
      inStep = 1;
      yield;
    }
    const id = String(raw[i]);
    const entry = decodeEntry(id, raw[i + 1]);
    if (entry.ok) backends.push(entry.value);
    else skipped.push(entry.skipped);
  }
  backends.sort(byId);
  skipped.sort(byId);
  return { ok: true, value: changedAt === undefined ? { version, backends, skipped } : { version, changedAt, backends, skipped } };
}

type EntryResult = { readonly ok: true; readonly value: BackendSpec } | { readonly ok: false; readonly skipped: SkippedEntry };

/** One id and its entry from the snapshot script: a backend, or the reason it is skipped. */
export function decodeEntry(id: string, entry: unknown): EntryResult {
  if (typeof entry === 'string') return { ok: false, skipped: { id, reason: entry } };
  if (!Array.isArray(entry)) return { ok: false, skipped: { id, reason: 'unexpected reply for this entry' } };
  const fields: Record<string, string> = {};
  ENTRY_FIELDS.forEach((f, j) => {
    const v: unknown = entry[j];
    if (typeof v === 'string') fields[f] = v;
  });
  if (!isBackendId(id)) return { ok: false, skipped: { id, reason: `id '${clip(id, 64)}' is not a valid backend id`, fields } };
  const decoded = decodeBackend(id, fields);
  return decoded.ok ? decoded : { ok: false, skipped: { id, reason: decoded.reason, fields } };
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function byId(a: { readonly id: string }, b: { readonly id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Idempotent upsert: writes only when a field differs, so a reconcile that
 * changes nothing does not bump the version.
 * KEYS: backends set, backend hash, version. ARGV: id, now ms, channel, f1, v1, ...
 * Returns the new version, 0 when nothing changed, or -1 when the key holds
 * something other than a hash: a value it did not write is never replaced.
 */
export const UPSERT_SCRIPT = `
local key = KEYS[2]
local held = redis.pcall('HLEN', key)
if type(held) == 'table' then return -1 end
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
 * Returns -1 when the id is not registered (or its key is not a hash), 0 when the state was already set, else the new version.
 */
export const SET_STATE_SCRIPT = `
local held = redis.pcall('HLEN', KEYS[2])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 or type(held) == 'table' or held == 0 then return -1 end
if redis.call('HGET', KEYS[2], 'state') == ARGV[4] then return 0 end
redis.call('HSET', KEYS[2], 'state', ARGV[4], 'updated_at', ARGV[2])
local v = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[3] .. ':at', ARGV[2])
redis.call('PUBLISH', ARGV[3], cjson.encode({ version = v, op = 'state', id = ARGV[1], at = tonumber(ARGV[2]) }))
return v
`;
