import type { Redis } from 'ioredis';
import type { Lifecycle } from '../lifecycle.js';
import { closeClient, startQuietClient, type RedisTarget } from './redis-connection.js';

/** One backend's load as one balancer sees it. */
export interface BackendLoad {
  /** Requests open to it now. */
  readonly inflight: number;
  /** Requests sent to it per second, over the last report interval. */
  readonly rps: number;
}

/**
 * Every balancer's last report: `KEYS[1]` its hash, `KEYS[2]` the index of
 * reporters; ARGV: ttl ms, instance, then backend id and "inflight rps" pairs.
 * Times are the Redis server's, so the balancers' clocks do not matter.
 */
const PUBLISH_SCRIPT = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('DEL', KEYS[1])
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 10 * tonumber(ARGV[1]))
return now
`;

/** The reports younger than the ttl: KEYS[1] the index; ARGV: ttl ms, hash key prefix. Returns {instance, {field, value, ...}, ...}. */
const READ_SCRIPT = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local out = {}
for _, instance in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')) do
  out[#out + 1] = instance
  out[#out + 1] = redis.call('HGETALL', ARGV[2] .. instance)
end
return out
`;

type BoardClient = Redis & {
  swyLoadPublish(hash: string, index: string, ...args: string[]): Promise<number>;
  swyLoadRead(index: string, ttl: string, prefix: string): Promise<unknown[]>;
};

export interface LoadBoardOptions {
  readonly target: RedisTarget;
  readonly prefix: string;
  /** A report older than this is not counted (its balancer is gone or cut off). */
  readonly ttlMs: number;
}

/**
 * Where balancers put the load they send each backend, and where the
 * controller's autoscaler adds it up over every balancer: one hash per
 * balancer (`<prefix>load:<instance>`), expiring, and an index of reporters
 * (`<prefix>loads`).
 */
export class RedisLoadBoard implements Lifecycle {
  readonly #opts: LoadBoardOptions;
  #client: BoardClient | undefined;

  constructor(opts: LoadBoardOptions) {
    this.#opts = opts;
  }

  async start(): Promise<void> {
    const c = (await startQuietClient(this.#opts.target, 'switchyard-load-board')) as BoardClient;
    c.defineCommand('swyLoadPublish', { numberOfKeys: 2, lua: PUBLISH_SCRIPT });
    c.defineCommand('swyLoadRead', { numberOfKeys: 1, lua: READ_SCRIPT });
    this.#client = c;
  }

  close(): Promise<void> {
    return closeClient(this.#client);
  }

  async publish(instance: string, loads: ReadonlyMap<string, BackendLoad>): Promise<void> {
    const args: string[] = [String(this.#opts.ttlMs), instance];
    for (const [id, l] of loads) args.push(id, `${l.inflight} ${round(l.rps)}`);
    await this.#ready().swyLoadPublish(`${this.#opts.prefix}load:${instance}`, `${this.#opts.prefix}loads`, ...args);
  }

  /** Each backend's load summed over the balancers that reported within the ttl, and how many did. */
  async read(): Promise<{ readonly byBackend: Map<string, BackendLoad>; readonly reporters: number }> {
    const raw = await this.#ready().swyLoadRead(`${this.#opts.prefix}loads`, String(this.#opts.ttlMs), `${this.#opts.prefix}load:`);
    const byBackend = new Map<string, BackendLoad>();
    let reporters = 0;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      reporters++;
      const fields = raw[i + 1];
      if (!Array.isArray(fields)) continue;
      for (let j = 0; j + 1 < fields.length; j += 2) {
        const [inflight, rps] = String(fields[j + 1])
          .split(' ')
          .map(Number);
        if (!Number.isFinite(inflight) || !Number.isFinite(rps) || inflight! < 0 || rps! < 0) continue;
        const id = String(fields[j]);
        const prev = byBackend.get(id) ?? { inflight: 0, rps: 0 };
        byBackend.set(id, { inflight: prev.inflight + inflight!, rps: prev.rps + rps! });
      }
    }
    return { byBackend, reporters };
  }

  #ready(): BoardClient {
    const c = this.#client;
    if (!c || c.status !== 'ready') throw new Error(`redis connection is ${c?.status ?? 'not started'}`);
    return c;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
