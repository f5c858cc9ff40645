import type { Redis, RedisOptions } from 'ioredis';
import { sameSpec, type BackendSpec, type BackendState, type ParseResult } from '../backend.js';
import type { Logger } from '../logger.js';
import {
  EMPTY_SNAPSHOT,
  MAX_REPORTED_SKIPPED,
  RegistryConflictError,
  RegistryUnavailableError,
  type Registry,
  type RegistryListener,
  type RegistrySnapshot,
  type RegistryStatus,
  type SkippedRegistryEntry,
} from './registry.js';
import { clientOptions, closeClient, describeRedisTarget, openRedis, type RedisTarget } from './redis-connection.js';
import { ReadyWatch } from './ready-watch.js';
import {
  decodeSnapshot,
  decodeSnapshotInSteps,
  type DecodedSnapshot,
  encodeBackend,
  MAX_FIELD_BYTES,
  parseChangeMessage,
  parseVersionAt,
  redisKeys,
  REMOVE_SCRIPT,
  SET_STATE_SCRIPT,
  SNAPSHOT_SCRIPT,
  UPSERT_SCRIPT,
  type RedisKeys,
  type SkippedEntry,
} from './redis-schema.js';

/** Reply entries (2 per backend) past which decoding waits for the next turn of the event loop. */
const LARGE_REPLY = 2000;
/** Entries of a large reply validated per turn of the event loop. */
const DECODE_STEP = 1000;

export interface RedisRegistryOptions {
  /** One Redis server, or the primary Redis Sentinel names. */
  readonly target: RedisTarget;
  readonly prefix: string;
  /** How often the version key is polled to catch changes whose message was lost. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Extra ioredis options (tests shorten timeouts). */
  readonly redisOptions?: RedisOptions;
}

type ScriptClient = Redis & {
  swySnapshot(backendsKey: string, versionKey: string, backendPrefix: string, maxFieldBytes: string): Promise<unknown>;
  swyUpsert(setKey: string, hashKey: string, versionKey: string, ...args: string[]): Promise<number>;
  swyRemove(setKey: string, hashKey: string, versionKey: string, id: string, now: string, channel: string): Promise<number>;
  swySetState(setKey: string, hashKey: string, versionKey: string, id: string, now: string, channel: string, state: string): Promise<number>;
};

/** A registry connection not ready for this long is started again (ready-watch.ts). */
const NOT_READY_RESTART_MS = 10_000;

/**
 * The shared registry in Redis. Loads a full snapshot atomically (one Lua
 * script), reloads on a pub/sub message and whenever a poll of the version
 * key shows a change, and keeps serving the last snapshot while Redis is
 * away. An entry that cannot be read as a backend (wrong type, malformed,
 * too large) is skipped, counted and logged once; a snapshot that cannot be
 * read at all while Redis answers (a wrong-typed set or version key, a
 * script refused) clears `synced` and sets `syncError` until one loads again,
 * the last snapshot staying in use meanwhile.
 */
export class RedisRegistry implements Registry {
  readonly #opts: RedisRegistryOptions;
  readonly #keys: RedisKeys;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #listeners = new Set<RegistryListener>();
  #client: ScriptClient | undefined;
  #sub: Redis | undefined;
  #poll: NodeJS.Timeout | undefined;
  #snapshot: RegistrySnapshot = EMPTY_SNAPSHOT;
  #connected = false;
  /** A snapshot was loaded since start. */
  #loaded = false;
  /** Why the latest snapshot read failed while Redis answered. */
  #syncError: string | undefined;
  #everConnected = false;
  #lastSyncAt: number | undefined;
  #lastPropagationMs: number | undefined;
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  #closed = false;
  /** Malformed entries already warned about, keyed by id and raw content, so each is logged once. */
  readonly #warned = new Map<string, string>();
  #skipped: readonly SkippedEntry[] = [];

  constructor(opts: RedisRegistryOptions) {
    this.#opts = opts;
    this.#keys = redisKeys(opts.prefix);
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  get keys(): RedisKeys {
    return this.#keys;
  }

  async start(): Promise<void> {
    const client = openRedis(this.#opts.target, clientOptions('switchyard-registry', this.#opts.redisOptions)) as ScriptClient;
    client.defineCommand('swySnapshot', { numberOfKeys: 2, lua: SNAPSHOT_SCRIPT });
    client.defineCommand('swyUpsert', { numberOfKeys: 3, lua: UPSERT_SCRIPT });
    client.defineCommand('swyRemove', { numberOfKeys: 3, lua: REMOVE_SCRIPT });
    client.defineCommand('swySetState', { numberOfKeys: 3, lua: SET_STATE_SCRIPT });
    const sub = openRedis(this.#opts.target, clientOptions('switchyard-registry-sub', this.#opts.redisOptions));
    this.#client = client;
    this.#sub = sub;

    client.on('error', (err: Error) => this.#onError(err));
    sub.on('error', (err: Error) => this.#onError(err));
    client.on('ready', () => this.#onReady());
    client.on('close', () => this.#onClose());
    sub.on('ready', () => {
      // Messages published while the subscriber was away are lost; reload to catch up.
      if (this.#everConnected) this.#requestReload();
    });
    sub.on('message', (_channel: string, message: string) => {
      const m = parseChangeMessage(message);
      const s = this.#snapshot;
      if (!m || m.version !== s.version || (m.at !== undefined && m.at !== s.changedAt)) this.#requestReload();
    });

    await Promise.allSettled([client.connect(), sub.connect()]);
    sub.subscribe(this.#keys.channel).catch((err: unknown) => this.#log.warn({ err }, 'registry subscribe failed, relying on polling'));
    if (client.status === 'ready') {
      await this.#reload().catch(() => undefined);
    } else {
      this.#log.warn({ redis: describeRedisTarget(this.#opts.target) }, 'registry unreachable at start, will keep trying');
    }
    this.#poll = setInterval(() => this.#pollVersion(), this.#opts.pollIntervalMs);
    this.#poll.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    this.#listeners.clear();
    await Promise.allSettled([this.#reloading]);
    for (const c of [this.#sub, this.#client]) await closeClient(c);
  }

  current(): RegistrySnapshot {
    return this.#snapshot;
  }

  subscribe(listener: RegistryListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): RegistryStatus {
    return {
      kind: 'redis',
      connected: this.#connected,
      synced: this.#loaded && this.#syncError === undefined,
      ...(this.#syncError === undefined ? {} : { syncError: this.#syncError }),
      version: this.#snapshot.version,
      lastSyncAt: this.#lastSyncAt,
      lastPropagationMs: this.#lastPropagationMs,
      skippedEntries: this.#skipped.length,
      skipped: this.#skipped.slice(0, MAX_REPORTED_SKIPPED).map((e) => ({ id: e.id, reason: clip(e.reason, 200) })),
    };
  }

  async upsert(spec: BackendSpec): Promise<void> {
    const k = this.#keys;
    const v = await this.#write(() =>
      this.#ready().swyUpsert(k.backends, k.backend(spec.id), k.version, spec.id, String(this.#now()), k.channel, ...encodeBackend(spec)),
    );
    if (v === -1) throw new RegistryConflictError(spec.id);
  }

  async remove(id: string): Promise<boolean> {
    const k = this.#keys;
    const v = await this.#write(() => this.#ready().swyRemove(k.backends, k.backend(id), k.version, id, String(this.#now()), k.channel));
    return v !== 0;
  }

  async setState(id: string, state: BackendState): Promise<boolean> {
    const k = this.#keys;
    const v = await this.#write(() => this.#ready().swySetState(k.backends, k.backend(id), k.version, id, String(this.#now()), k.channel, state));
    return v !== -1;
  }

  async #write(op: () => Promise<number>): Promise<number> {
    let v: number;
    try {
      v = await op();
    } catch (err) {
      throw new RegistryUnavailableError(err);
    }
    // Our own write: reload now rather than wait for the message round trip.
    if (v > 0) await this.#reload().catch(() => undefined);
    return v;
  }

  #ready(): ScriptClient {
    const c = this.#client;
    if (!c || c.status !== 'ready') throw new Error(`redis connection is ${c?.status ?? 'not started'}`);
    return c;
  }

  #onReady(): void {
    const wasDown = this.#everConnected && !this.#connected;
    this.#connected = true;
    this.#everConnected = true;
    if (wasDown) this.#log.info({ redis: describeRedisTarget(this.#opts.target) }, 'registry connection restored, resyncing');
    this.#requestReload();
  }

  #onClose(): void {
    if (this.#closed) return;
    if (this.#connected) {
      this.#log.warn(
        { redis: describeRedisTarget(this.#opts.target), version: this.#snapshot.version, backends: this.#snapshot.backends.length },
        'registry connection lost, serving the last known backends',
      );
    }
    this.#connected = false;
  }

  #lastErrorLog = 0;
  #onError(err: Error): void {
    const now = this.#now();
    // ioredis reports every failed reconnect attempt; one line per 10 s is enough.
    if (now - this.#lastErrorLog < 10_000) return;
    this.#lastErrorLog = now;
    this.#log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'registry connection error');
  }

  readonly #clientWatch = new ReadyWatch(NOT_READY_RESTART_MS);
  /** The subscriber, watched the same way (a message it misses is caught by the poll, but not for ever). */
  readonly #subWatch = new ReadyWatch(NOT_READY_RESTART_MS);

  /** Connections that stay not ready are started again (ready-watch.ts). */
  #watchConnections(): void {
    if (this.#closed) return;
    const now = this.#now();
    const stuck = this.#client === undefined ? undefined : this.#clientWatch.check(this.#client, now);
    if (stuck !== undefined)
      this.#log.warn({ redis: describeRedisTarget(this.#opts.target), status: stuck }, 'registry connection not ready for 10 s, connecting again');
    if (this.#sub) this.#subWatch.check(this.#sub, now);
  }

  #pollVersion(): void {
    this.#watchConnections();
    const c = this.#client;
    if (!c || c.status !== 'ready' || this.#reloading) return;
    // Until a snapshot loads (again), every poll retries the full read.
    if (!this.#loaded || this.#syncError !== undefined) {
      this.#requestReload();
      return;
    }
    // The version and its time together: after a failover to a replica that had not
    // received the last writes, the version goes back and later writes may bring it to
    // the same number with other content, but not at the same millisecond.
    Promise.all([c.get(this.#keys.version), c.get(this.#keys.versionAt)]).then(
      ([v, at]) => {
        const s = this.#snapshot;
        if (Number(v ?? 0) !== s.version || parseVersionAt(at) !== s.changedAt) this.#requestReload();
      },
      () => undefined,
    );
  }

  #requestReload(): void {
    if (this.#closed) return;
    if (this.#reloading) {
      this.#reloadAgain = true;
      return;
    }
    this.#reload().catch(() => undefined);
  }

  #reload(): Promise<void> {
    if (this.#reloading) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.#reloadAgain = false;
          await this.#loadOnce();
        } while (this.#reloadAgain && !this.#closed);
      } finally {
        this.#reloading = undefined;
      }
    };
    this.#reloading = run();
    return this.#reloading;
  }

  async #loadOnce(): Promise<void> {
    const c = this.#client;
    if (!c || c.status !== 'ready') return;
    let raw: unknown;
    try {
      raw = await c.swySnapshot(this.#keys.backends, this.#keys.version, this.#keys.backend(''), String(MAX_FIELD_BYTES));
    } catch (err) {
      // A command lost with its connection is an outage (see #onClose), not an unreadable registry.
      if (c.status !== 'ready') {
        this.#onError(err as Error);
        throw err;
      }
      this.#failSync(describeReadError(err));
      throw err;
    }
    // The reply was parsed in this turn of the event loop. A large one is decoded
    // in later turns, DECODE_STEP entries each, and handed on in a turn of its own:
    // 10,000 entries take tens of milliseconds to validate, and the apply follows.
    const large = Array.isArray(raw) && raw.length > LARGE_REPLY;
    const decoded = large ? await decodeInTurns(raw, this.#keys) : decodeSnapshot(raw, this.#keys);
    if (!decoded.ok) {
      this.#failSync(decoded.reason);
      throw new Error(decoded.reason);
    }
    const { version, changedAt, backends, skipped } = decoded.value;
    const now = this.#now();
    this.#warnSkipped(skipped);
    this.#skipped = skipped;
    this.#lastSyncAt = now;
    if (this.#syncError !== undefined) {
      this.#log.info({ version, backends: backends.length, skipped: skipped.length, was: this.#syncError }, 'registry snapshot readable again');
      this.#syncError = undefined;
    }
    const first = !this.#loaded;
    this.#loaded = true;
    const prev = this.#snapshot;
    const skippedView: SkippedRegistryEntry[] = skipped.map((e) => ({ id: e.id, reason: e.reason }));
    if (!first && version === prev.version && changedAt === prev.changedAt && sameList(prev.backends, backends) && sameSkipped(prev.skipped ?? [], skippedView))
      return;
    if (changedAt && version !== prev.version) this.#lastPropagationMs = Math.max(0, now - changedAt);
    this.#snapshot = Object.freeze({ version, backends: Object.freeze(backends), changedAt, skipped: Object.freeze(skippedView) });
    this.#log.info({ version, backends: backends.length, skipped: skipped.length }, 'registry snapshot loaded');
    if (large) await nextTurn();
    if (this.#closed) return;
    for (const l of this.#listeners) l(this.#snapshot);
  }

  /** Logs each skipped entry once per id and reason/content, and forgets the ones gone or repaired. */
  #warnSkipped(skipped: readonly SkippedEntry[]): void {
    const seen = new Set<string>();
    for (const e of skipped) {
      seen.add(e.id);
      const sig = `${e.reason}|${JSON.stringify(e.fields ?? null)}`;
      if (this.#warned.get(e.id) === sig) continue;
      this.#warned.set(e.id, sig);
      this.#log.warn({ backendId: e.id, reason: e.reason, entry: e.fields ? clipFields(e.fields) : null }, 'skipping malformed registry entry');
    }
    for (const id of this.#warned.keys()) if (!seen.has(id)) this.#warned.delete(id);
  }

  /** The store answered but its snapshot cannot be read: not synced until one loads; logged once per reason. */
  #failSync(reason: string): void {
    if (this.#syncError === reason) return;
    this.#syncError = reason;
    this.#log.warn(
      { reason, version: this.#snapshot.version, backends: this.#snapshot.backends.length },
      'registry snapshot cannot be read, serving the last known backends',
    );
  }
}

function sameList(a: readonly BackendSpec[], b: readonly BackendSpec[]): boolean {
  return a.length === b.length && a.every((x, i) => sameSpec(x, b[i]!));
}

function sameSkipped(a: readonly SkippedRegistryEntry[], b: readonly SkippedRegistryEntry[]): boolean {
  return a.length === b.length && a.every((x, i) => x.id === b[i]!.id && x.reason === b[i]!.reason);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** Field values cut for a log line: a skipped entry may hold up to MAX_FIELD_BYTES per field. */
function clipFields(fields: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = clip(v, 200);
  return out;
}

/** A Redis error as a one-line reason for status and logs: the server's message names no credentials. */
function describeReadError(err: unknown): string {
  const message = String((err as { message?: unknown }).message ?? err).split('\n')[0]!;
  return clip(`the snapshot script failed: ${message}`, 300);
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Decodes a large snapshot reply DECODE_STEP entries per turn of the event loop. */
async function decodeInTurns(raw: unknown, keys: RedisKeys): Promise<ParseResult<DecodedSnapshot>> {
  const steps = decodeSnapshotInSteps(raw, keys, DECODE_STEP);
  for (;;) {
    await nextTurn();
    const r = steps.next();
    if (r.done) return r.value;
  }
}
