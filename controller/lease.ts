import type { Redis, RedisOptions } from 'ioredis';
import type { Lifecycle } from '../common/lifecycle.js';
import type { Logger } from '../common/logger.js';
import { clientOptions, closeClient, describeRedisTarget, openRedis, type RedisTarget } from '../common/registry/redis-connection.js';

/** Who may write: one holder at a time; the others stand by. */
export interface WriterLease extends Lifecycle {
  /** True while this process holds an unexpired lease. */
  readonly held: boolean;
  /** Called with true when the lease is won, false when it is lost or given up. */
  subscribe(listener: (held: boolean) => void): () => void;
}

/**
 * Takes the lease when it is free and extends it when this holder still has it.
 * KEYS: lease key. ARGV: holder, ttl ms.
 * Returns {1} when held, {0, holder, pttl} when someone else holds it, and
 * {2, error} when the key holds something other than a string: not a lease,
 * and not ours to delete, so nobody holds it until an operator removes it.
 */
export const CLAIM_SCRIPT = `
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'table' then return { 2, v.err } end
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return { 1 }
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return { 1 }
end
return { 0, v, redis.call('PTTL', KEYS[1]) }
`;

/** Deletes the lease only if this holder has it. KEYS: lease key. ARGV: holder. */
export const RELEASE_SCRIPT = `
if redis.pcall('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface RedisLeaseOptions {
  /** One Redis server, or the primary Redis Sentinel names. */
  readonly target: RedisTarget;
  readonly key: string;
  /** Unique name of this contender. */
  readonly holder: string;
  readonly ttlMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly redisOptions?: RedisOptions;
}

type LeaseClient = Redis & {
  swyClaim(key: string, holder: string, ttl: string): Promise<[number, string?, number?]>;
  swyRelease(key: string, holder: string): Promise<number>;
};

/**
 * A Redis lease: `SET NX PX` semantics through one compare-and-extend script,
 * tried every ttl/3. The holder counts the lease as held only until
 * `sent + ttl - margin`, measured from when its last successful claim was
 * sent, so it stops writing before any standby can take over, even when
 * Redis cannot be reached to say so. close() releases it for a fast handover.
 *
 * A lost connection gives the lease up at once. The node it reconnects to
 * may not be the one that granted it: after a failover, a replica that had
 * not received the claim is the primary, and another controller may win
 * the lease there before this one's time runs out. Claiming it again on
 * the node it now reaches keeps two holders from overlapping.
 */
export class RedisLease implements WriterLease {
  readonly #opts: RedisLeaseOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #listeners = new Set<(held: boolean) => void>();
  #client: LeaseClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #validUntil = 0;
  #held = false;
  #closed = false;
  #ticking = false;
  #lastHolderSeen: string | undefined;

  constructor(opts: RedisLeaseOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  get held(): boolean {
    return this.#held && this.#now() < this.#validUntil;
  }

  get holder(): string {
    return this.#opts.holder;
  }

  subscribe(listener: (held: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(): Promise<void> {
    const client = openRedis(
      this.#opts.target,
      clientOptions('switchyard-controller-lease', { commandTimeout: Math.max(250, Math.floor(this.#opts.ttlMs / 4)), ...this.#opts.redisOptions }),
    ) as LeaseClient;
    client.defineCommand('swyClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    client.defineCommand('swyRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    // Connection problems are logged by the registry; here they only delay the next claim.
    client.on('error', () => undefined);
    client.on('ready', () => this.#schedule(0));
    client.on('close', () => {
      if (!this.#closed) this.#setHeld(false, 'connection to Redis lost');
    });
    this.#client = client;
    await client.connect().catch(() => undefined);
    await this.#tick();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    const c = this.#client;
    const wasHeld = this.held;
    this.#setHeld(false, 'closing');
    if (!c) return;
    if (wasHeld && c.status === 'ready') {
      await c.swyRelease(this.#opts.key, this.#opts.holder).then(
        () => this.#log.info({ key: this.#opts.key, holder: this.#opts.holder }, 'writer lease released'),
        () => undefined,
      );
    }
    await closeClient(c);
  }

  /** One claim attempt; also the timer's body. Exposed for tests that drive time. */
  async tick(): Promise<void> {
    await this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#closed || this.#ticking) return;
    this.#ticking = true;
    const c = this.#client;
    const sentAt = this.#now();
    const ttl = this.#opts.ttlMs;
    try {
      if (!c || c.status !== 'ready') throw new Error(`redis connection is ${c?.status ?? 'not started'}`);
      const [won, other, pttl] = await c.swyClaim(this.#opts.key, this.#opts.holder, String(ttl));
      if (this.#closed) return;
      if (won === 1) {
        this.#validUntil = sentAt + ttl - margin(ttl);
        this.#setHeld(true, 'claimed');
      } else if (won === 2) {
        this.#setHeld(false, 'the lease key is not a lease');
        const seen = `not a lease: ${other}`;
        if (seen !== this.#lastHolderSeen) {
          this.#lastHolderSeen = seen;
          this.#log.error({ key: this.#opts.key, error: other }, 'writer lease key holds a value that is not a lease, standing by until it is deleted');
        }
      } else {
        this.#setHeld(false, 'held by another controller');
        if (other !== this.#lastHolderSeen) {
          this.#lastHolderSeen = other;
          this.#log.info({ key: this.#opts.key, holder: other, expiresInMs: pttl }, 'standing by: another controller holds the writer lease');
        }
      }
    } catch (err) {
      if (this.#held && this.#now() >= this.#validUntil) this.#setHeld(false, 'could not renew before expiry');
      this.#log.debug({ error: (err as Error).message, redis: describeRedisTarget(this.#opts.target) }, 'lease claim failed');
    } finally {
      this.#ticking = false;
      this.#schedule(this.#nextDelay());
    }
  }

  #nextDelay(): number {
    const third = Math.max(50, Math.floor(this.#opts.ttlMs / 3));
    // While held but unconfirmed, wake at expiry so `held` listeners learn it promptly.
    if (this.#held) return Math.max(10, Math.min(third, this.#validUntil - this.#now()));
    return third;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    this.#timer.unref();
  }

  #setHeld(held: boolean, reason: string): void {
    if (held === this.#held) return;
    this.#held = held;
    if (held) {
      this.#lastHolderSeen = undefined;
      this.#log.info({ key: this.#opts.key, holder: this.#opts.holder, ttlMs: this.#opts.ttlMs }, 'writer lease acquired');
    } else if (reason !== 'closing') {
      this.#log.warn({ key: this.#opts.key, holder: this.#opts.holder, reason }, 'writer lease lost');
    }
    for (const l of this.#listeners) l(held);
  }
}

/** Safety margin for clock drift and the claim's own round trip: a tenth of the TTL, at least 100 ms. */
function margin(ttlMs: number): number {
  return Math.min(Math.max(100, Math.floor(ttlMs / 10)), Math.floor(ttlMs / 2));
}
