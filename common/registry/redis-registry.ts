import { Redis, type RedisOptions } from 'ioredis';
import { sameSpec, type BackendSpec, type BackendState } from '../backend.js';
import type { Logger } from '../logger.js';
import { EMPTY_SNAPSHOT, RegistryUnavailableError, type Registry, type RegistryListener, type RegistrySnapshot, type RegistryStatus } from './registry.js';
import {
  decodeBackend,
  encodeBackend,
  parseChangeMessage,
  redisKeys,
  REMOVE_SCRIPT,
  SET_STATE_SCRIPT,
  SNAPSHOT_SCRIPT,
  UPSERT_SCRIPT,
  type RedisKeys,
} from './redis-schema.js';

export interface RedisRegistryOptions {
  readonly url: string;
  readonly prefix: string;
  /** How often the version key is polled to catch changes whose message was lost. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Extra ioredis options (tests shorten timeouts). */
  readonly redisOptions?: RedisOptions;
}

/** Capped, jittered exponential backoff for reconnects: 100 ms doubling to 2 s. */
export function reconnectDelay(times: number): number {
  const base = Math.min(2000, 100 * 2 ** Math.min(times - 1, 5));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

type ScriptClient = Redis & {
  swySnapshot(backendsKey: string, versionKey: string, backendPrefix: string): Promise<unknown[]>;
  swyUpsert(setKey: string, hashKey: string, versionKey: string, ...args: string[]): Promise<number>;
  swyRemove(setKey: string, hashKey: string, versionKey: string, id: string, now: string, channel: string): Promise<number>;
  swySetState(setKey: string, hashKey: string, versionKey: string, id: string, now: string, channel: string, state: string): Promise<number>;
};

/**
 * The shared registry in Redis. Loads a full snapshot atomically (one Lua
 * script), reloads on a pub/sub message and whenever a poll of the version
 * key shows a change, and keeps serving the last snapshot while Redis is
 * away. Malformed entries are skipped with a warning.
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
  #synced = false;
  #everConnected = false;
  #lastSyncAt: number | undefined;
  #lastPropagationMs: number | undefined;
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  #closed = false;
  /** Malformed entries already warned about, keyed by id and raw content, so each is logged once. */
  readonly #warned = new Map<string, string>();
  #skipped = 0;

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
    const base: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: reconnectDelay,
      ...this.#opts.redisOptions,
    };
    const client = new Redis(this.#opts.url, { ...base, connectionName: 'switchyard-registry' }) as ScriptClient;
    client.defineCommand('swySnapshot', { numberOfKeys: 2, lua: SNAPSHOT_SCRIPT });
    client.defineCommand('swyUpsert', { numberOfKeys: 3, lua: UPSERT_SCRIPT });
    client.defineCommand('swyRemove', { numberOfKeys: 3, lua: REMOVE_SCRIPT });
    client.defineCommand('swySetState', { numberOfKeys: 3, lua: SET_STATE_SCRIPT });
    const sub = new Redis(this.#opts.url, { ...base, connectionName: 'switchyard-registry-sub' });
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
      if (!m || m.version !== this.#snapshot.version) this.#requestReload();
    });

    await Promise.allSettled([client.connect(), sub.connect()]);
    sub.subscribe(this.#keys.channel).catch((err: unknown) => this.#log.warn({ err }, 'registry subscribe failed, relying on polling'));
    if (client.status === 'ready') {
      await this.#reload().catch(() => undefined);
    } else {
      this.#log.warn({ url: redactUrl(this.#opts.url) }, 'registry unreachable at start, will keep trying');
    }
    this.#poll = setInterval(() => this.#pollVersion(), this.#opts.pollIntervalMs);
    this.#poll.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    this.#listeners.clear();
    await Promise.allSettled([this.#reloading]);
    for (const c of [this.#sub, this.#client]) {
      if (!c) continue;
      if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
      else c.disconnect();
    }
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
      synced: this.#synced,
      version: this.#snapshot.version,
      lastSyncAt: this.#lastSyncAt,
      lastPropagationMs: this.#lastPropagationMs,
      skippedEntries: this.#skipped,
    };
  }

  async upsert(spec: BackendSpec): Promise<void> {
    const k = this.#keys;
    await this.#write(() => this.#ready().swyUpsert(k.backends, k.backend(spec.id), k.version, spec.id, String(this.#now()), k.channel, ...encodeBackend(spec)));
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
    if (wasDown) this.#log.info({ url: redactUrl(this.#opts.url) }, 'registry connection restored, resyncing');
    this.#requestReload();
  }

  #onClose(): void {
    if (this.#closed) return;
    if (this.#connected) {
      this.#log.warn(
        { url: redactUrl(this.#opts.url), version: this.#snapshot.version, backends: this.#snapshot.backends.length },
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

  #pollVersion(): void {
    const c = this.#client;
    if (!c || c.status !== 'ready' || this.#reloading) return;
    c.get(this.#keys.version).then(
      (v) => {
        if (Number(v ?? 0) !== this.#snapshot.version || !this.#synced) this.#requestReload();
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
    let raw: unknown[];
    try {
      raw = await c.swySnapshot(this.#keys.backends, this.#keys.version, this.#keys.backend(''));
    } catch (err) {
      this.#onError(err as Error);
      throw err;
    }
    const now = this.#now();
    const version = Number(raw[0] ?? 0);
    const changedAt = Number(raw[1] ?? 0) || undefined;
    const backends: BackendSpec[] = [];
    let skipped = 0;
    const seen = new Set<string>();
    for (let i = 2; i + 1 < raw.length; i += 2) {
      const id = String(raw[i]);
      const flat = raw[i + 1] as string[];
      const fields: Record<string, string> = {};
      for (let j = 0; j + 1 < flat.length; j += 2) fields[flat[j]!] = flat[j + 1]!;
      const decoded = decodeBackend(id, fields);
      seen.add(id);
      if (decoded.ok) {
        backends.push(decoded.value);
        this.#warned.delete(id);
        continue;
      }
      skipped++;
      const sig = `${decoded.reason}|${JSON.stringify(fields)}`;
      if (this.#warned.get(id) !== sig) {
        this.#warned.set(id, sig);
        this.#log.warn({ backendId: id, reason: decoded.reason, entry: fields }, 'skipping malformed registry entry');
      }
    }
    for (const id of this.#warned.keys()) if (!seen.has(id)) this.#warned.delete(id);
    backends.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.#skipped = skipped;
    this.#lastSyncAt = now;
    const first = !this.#synced;
    this.#synced = true;
    const prev = this.#snapshot;
    if (!first && version === prev.version && sameList(prev.backends, backends)) return;
    if (changedAt && version !== prev.version) this.#lastPropagationMs = Math.max(0, now - changedAt);
    this.#snapshot = Object.freeze({ version, backends: Object.freeze(backends), changedAt });
    this.#log.info({ version, backends: backends.length, skipped }, 'registry snapshot loaded');
    for (const l of this.#listeners) l(this.#snapshot);
  }
}

function sameList(a: readonly BackendSpec[], b: readonly BackendSpec[]): boolean {
  return a.length === b.length && a.every((x, i) => sameSpec(x, b[i]!));
}

/** Hides a password in a Redis URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
