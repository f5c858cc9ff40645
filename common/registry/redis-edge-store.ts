import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Lifecycle } from '../lifecycle.js';
import { closeClient, startQuietClient, startSubscriber, type RedisTarget } from './redis-connection.js';

/*
 * Where balancers share rate-limit buckets and bans (docs/edge.md): the
 * registry's Redis, under the registry's prefix. Every time is the Redis
 * server's (TIME), so the balancers' clocks do not matter.
 *
 * - `<prefix>rl:<hash>`: one token bucket (a hash: tokens, when counted),
 *   expiring once it would be full again; the hash is of the rule and the
 *   client key, so no client-chosen text becomes a key.
 * - `<prefix>strikes:<client>`: refusals of a client in the current window.
 * - `<prefix>bans`: a sorted set of "client\nreason" by the ban's end; every
 *   change is announced on `<prefix>bans` (channel).
 */

/** KEYS[1] the bucket; ARGV: tokens per second, burst. Returns {allowed 1|0, ms until one token, tokens left}. */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(v[1])
local at = tonumber(v[2])
if tokens == nil or at == nil then tokens = burst at = now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return {allowed, wait, math.floor(tokens)}
`;

/**
 * KEYS[1] the client's strikes, KEYS[2] the bans; ARGV: window ms, strikes that ban, ban ms,
 * client, reason, channel. Returns the ban's end (ms) when this strike made one, else 0.
 */
const STRIKE_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n < tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ends = now + tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], ends, ARGV[4] .. '\\n' .. ARGV[5])
redis.call('PUBLISH', ARGV[6], 'ban\\n' .. ARGV[4] .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[5])
return ends
`;

/** KEYS[1] the bans, KEYS[2] the client's strikes; ARGV: client, channel. Returns the bans removed. */
const LIFT_SCRIPT = `
local gone = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(m, 1, #ARGV[1] + 1) == ARGV[1] .. '\\n' then
    redis.call('ZREM', KEYS[1], m)
    gone = gone + 1
  end
end
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[2], 'lift\\n' .. ARGV[1])
return gone
`;

/** KEYS[1] the bans. Returns {now, member, end, ...} of the bans in force. */
const LIST_SCRIPT = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local out = {now}
local l = redis.call('ZRANGEBYSCORE', KEYS[1], now + 1, '+inf', 'WITHSCORES')
for i = 1, #l do out[#out + 1] = l[i] end
return out
`;

type EdgeClient = Redis & {
  swyTake(bucket: string, perSecond: string, burst: string): Promise<[number, number, number]>;
  swyStrike(strikes: string, bans: string, ...args: string[]): Promise<number>;
  swyLift(bans: string, strikes: string, client: string, channel: string): Promise<number>;
  swyBans(bans: string): Promise<(string | number)[]>;
};

/** A ban as the store holds it; `until` in the Redis server's time. */
export interface SharedBan {
  readonly client: string;
  readonly until: number;
  readonly reason: string;
}

/** A change announced on the channel (a ban with how long it lasts from now, ms). */
export type BanChange =
  { readonly kind: 'ban'; readonly client: string; readonly remainingMs: number; readonly reason: string } | { readonly kind: 'lift'; readonly client: string };

export interface EdgeStoreOptions {
  readonly target: RedisTarget;
  readonly prefix: string;
  /** A command that takes longer fails (the caller's --edge-store-failure applies). */
  readonly timeoutMs: number;
  readonly onChange: (c: BanChange) => void;
}

/** A message on the bans channel, checked (any client with the right could publish one); undefined when malformed. */
export function parseBanChange(message: string): BanChange | undefined {
  if (message.length > 2048) return undefined;
  const parts = message.split('\n');
  if (parts[0] === 'lift' && parts.length === 2 && parts[1] !== '') return { kind: 'lift', client: parts[1]! };
  if (parts[0] !== 'ban' || parts.length !== 4 || parts[1] === '') return undefined;
  const remainingMs = Number(parts[2]);
  if (!Number.isSafeInteger(remainingMs) || remainingMs <= 0) return undefined;
  return { kind: 'ban', client: parts[1]!, remainingMs, reason: parts[3]! };
}

/** Rate-limit buckets and bans in Redis, shared by every balancer on one registry. */
export class RedisEdgeStore implements Lifecycle {
  readonly #opts: EdgeStoreOptions;
  readonly #channel: string;
  #client: EdgeClient | undefined;
  #sub: Redis | undefined;

  constructor(opts: EdgeStoreOptions) {
    this.#opts = opts;
    this.#channel = `${opts.prefix}bans`;
  }

  async start(): Promise<void> {
    const c = (await startQuietClient(this.#opts.target, 'switchyard-edge', { commandTimeout: this.#opts.timeoutMs })) as EdgeClient;
    c.defineCommand('swyTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    c.defineCommand('swyStrike', { numberOfKeys: 2, lua: STRIKE_SCRIPT });
    c.defineCommand('swyLift', { numberOfKeys: 2, lua: LIFT_SCRIPT });
    c.defineCommand('swyBans', { numberOfKeys: 1, lua: LIST_SCRIPT });
    this.#client = c;
    this.#sub = await startSubscriber(this.#opts.target, 'switchyard-edge-sub', this.#channel, (message) => {
      const change = parseBanChange(message);
      if (change !== undefined) this.#opts.onChange(change);
    });
  }

  async close(): Promise<void> {
    await closeClient(this.#sub);
    await closeClient(this.#client);
  }

  /** Takes a token from the shared bucket of `rule` for `key`: whether allowed, and ms until the next token. */
  async take(rule: string, key: string, perSecond: number, burst: number): Promise<{ allowed: boolean; waitMs: number }> {
    const bucket = `${this.#opts.prefix}rl:${createHash('sha1').update(rule).update('\n').update(key).digest('base64url')}`;
    const [allowed, waitMs] = await this.#ready().swyTake(bucket, String(perSecond), String(burst));
    return { allowed: allowed === 1, waitMs };
  }

  /** Counts a refusal of `client`; the ban's end when this strike made one, else 0. */
  async strike(client: string, reason: string, windowMs: number, after: number, durationMs: number): Promise<number> {
    const p = this.#opts.prefix;
    return this.#ready().swyStrike(`${p}strikes:${client}`, `${p}bans`, String(windowMs), String(after), String(durationMs), client, reason, this.#channel);
  }

  async lift(client: string): Promise<void> {
    const p = this.#opts.prefix;
    await this.#ready().swyLift(`${p}bans`, `${p}strikes:${client}`, client, this.#channel);
  }

  /** The bans in force, and the Redis server's time now. */
  async bans(): Promise<{ now: number; bans: SharedBan[] }> {
    const out = await this.#ready().swyBans(`${this.#opts.prefix}bans`);
    const bans: SharedBan[] = [];
    for (let i = 1; i + 1 < out.length; i += 2) {
      const member = String(out[i]);
      const nl = member.indexOf('\n');
      bans.push({ client: nl === -1 ? member : member.slice(0, nl), reason: nl === -1 ? '' : member.slice(nl + 1), until: Number(out[i + 1]) });
    }
    return { now: Number(out[0]), bans };
  }

  #ready(): EdgeClient {
    const c = this.#client;
    if (c === undefined || c.status !== 'ready') throw new Error('the edge store is not connected to Redis');
    return c;
  }
}
