import { Redis, type RedisOptions } from 'ioredis';

export interface SentinelAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Where a program's Redis is: one server named by a URL, or the primary of a
 * group watched by Redis Sentinel. With sentinels the URL gives only the
 * user, password and database (ACL users are defined on every node); the
 * address is the one the sentinels name as the group's primary at each
 * (re)connect.
 */
export interface RedisTarget {
  readonly url?: string;
  readonly sentinels?: readonly SentinelAddress[];
  /** The group's name in `sentinel monitor`. */
  readonly masterName?: string;
  readonly sentinelUsername?: string;
  readonly sentinelPassword?: string;
}

/** The Redis options every program shares, as read from its config. */
export interface RedisTargetValues {
  readonly redis?: string | undefined;
  readonly redisSentinels: readonly string[];
  readonly redisMasterName: string;
  readonly redisSentinelUsername?: string | undefined;
  readonly redisSentinelPassword?: string | undefined;
}

/** The target a config names, or undefined when it names no Redis at all. */
export function redisTargetFrom(values: RedisTargetValues): RedisTarget | undefined {
  if (values.redisSentinels.length === 0) return values.redis === undefined ? undefined : Object.freeze({ url: values.redis });
  return Object.freeze({
    ...(values.redis === undefined ? {} : { url: values.redis }),
    sentinels: Object.freeze(values.redisSentinels.map(parseSentinel)),
    masterName: values.redisMasterName,
    ...(values.redisSentinelUsername === undefined ? {} : { sentinelUsername: values.redisSentinelUsername }),
    ...(values.redisSentinelPassword === undefined ? {} : { sentinelPassword: values.redisSentinelPassword }),
  });
}

/** `host:port` or `[v6]:port` of a sentinel (already validated by the config's value type). */
export function parseSentinel(text: string): SentinelAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not host:port`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`'${text}' has no valid port`);
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * A client for the target. With sentinels, ioredis asks them for the
 * primary on every connect, checks the node it reaches is a primary, and
 * drops the connection when a sentinel announces a switch (failoverDetector),
 * so a client never keeps writing to a demoted node.
 */
export function openRedis(target: RedisTarget, options: RedisOptions): Redis {
  if (!target.sentinels?.length) {
    if (target.url === undefined) throw new Error('a Redis target needs a URL or sentinels');
    return new Redis(target.url, options);
  }
  const auth = target.url === undefined ? {} : credentials(target.url);
  return new Redis({
    ...auth,
    sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: target.masterName ?? 'switchyard',
    role: 'master',
    failoverDetector: true,
    // The detector's own sentinel connections have no 'error' listener we can reach:
    // rather than retry a dead sentinel forever (ioredis prints each failure to stderr),
    // each gives up, and the next connect to the primary opens them again.
    sentinelReconnectStrategy: () => null,
    ...(target.sentinelUsername === undefined ? {} : { sentinelUsername: target.sentinelUsername }),
    ...(target.sentinelPassword === undefined ? {} : { sentinelPassword: target.sentinelPassword }),
    ...options,
  });
}

function credentials(url: string): Pick<RedisOptions, 'username' | 'password' | 'db'> {
  const u = new URL(url);
  const out: { username?: string; password?: string; db?: number } = {};
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  const db = u.pathname.replace(/^\//, '');
  if (/^\d+$/.test(db)) out.db = Number(db);
  return out;
}

/** The target for logs and status, with no password in it. */
export function describeRedisTarget(target: RedisTarget): string {
  if (!target.sentinels?.length) return redactUrl(target.url ?? '');
  const user = target.url === undefined ? '' : new URL(target.url).username;
  const sentinels = target.sentinels.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)).join(',');
  return `sentinel ${target.masterName ?? 'switchyard'}${user ? ` as ${decodeURIComponent(user)}` : ''} via ${sentinels}`;
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

/**
 * How every long-lived client of ours behaves: connects when started, fails a
 * command at once while disconnected (no offline queue: callers keep their
 * last state and retry), reconnects with reconnectDelay for ever.
 */
export function clientOptions(connectionName: string, extra: RedisOptions = {}): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: reconnectDelay,
    connectionName,
    ...extra,
  };
}

/**
 * A client with clientOptions, connecting (a failed first try is retried by
 * the client itself); its errors are dropped: the registry's connection logs
 * the trouble they share.
 */
export async function startQuietClient(target: RedisTarget, connectionName: string, extra: RedisOptions = {}): Promise<Redis> {
  const c = openRedis(target, clientOptions(connectionName, extra));
  c.on('error', () => undefined);
  await c.connect().catch(() => undefined);
  return c;
}

/**
 * A quiet client subscribed to `channel`, now and on every reconnect (Redis
 * away at start included; subscribing twice is harmless), handing each of
 * its messages to `onMessage`.
 */
export async function startSubscriber(target: RedisTarget, connectionName: string, channel: string, onMessage: (message: string) => void): Promise<Redis> {
  const sub = await startQuietClient(target, connectionName);
  sub.on('message', (from: string, message: string) => {
    if (from === channel) onMessage(message);
  });
  const subscribe = (): void => void sub.subscribe(channel).catch(() => undefined);
  sub.on('ready', subscribe);
  if (sub.status === 'ready') subscribe();
  return sub;
}

/** Closes a client: QUIT when connected, then disconnect(), which with sentinels also closes the failover detector's connections. */
export async function closeClient(c: Redis | undefined): Promise<void> {
  if (!c) return;
  if (c.status === 'ready') await c.quit().catch(() => undefined);
  c.disconnect();
}

/** Capped, jittered exponential backoff for reconnects: 100 ms doubling to 2 s. */
export function reconnectDelay(times: number): number {
  const base = Math.min(2000, 100 * 2 ** Math.min(times - 1, 5));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
