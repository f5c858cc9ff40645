import type { Lifecycle } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { BanChange, SharedBan } from '../../common/registry/redis-edge-store.js';
import type { Ban, BanList, StrikeSink } from './ban-list.js';
import type { RateLimiter, SharedBuckets } from './rate-limiter.js';

/** What the shared edge needs of its store (common/registry/redis-edge-store.ts implements it). */
export interface EdgeStore extends Lifecycle {
  take(rule: string, key: string, perSecond: number, burst: number): Promise<{ allowed: boolean; waitMs: number }>;
  strike(client: string, reason: string, windowMs: number, after: number, durationMs: number): Promise<number>;
  lift(client: string): Promise<void>;
  bans(): Promise<{ now: number; bans: SharedBan[] }>;
}

export interface SharedEdgeOptions {
  readonly failure: 'open' | 'closed';
  /** How often the whole ban list is read again (announcements can be missed while disconnected). */
  readonly resyncMs: number;
  readonly logger: Logger;
}

/**
 * Rate limits and bans shared by every balancer on one Redis (`--edge-store
 * redis`, docs/edge.md): the limiter takes tokens from buckets in the store,
 * strikes are counted there, and bans reach every balancer's table by
 * announcement and by a full read every `resyncMs`. While the store is
 * unreachable, rate limits go by --edge-store-failure and strikes are counted
 * here; it says so once in the log, and once again when it is back.
 */
export class SharedEdge implements Lifecycle, StrikeSink, SharedBuckets {
  readonly failure: 'open' | 'closed';
  readonly #store: EdgeStore;
  readonly #bans: BanList | undefined;
  readonly #opts: SharedEdgeOptions;
  #timer: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(store: EdgeStore, limiter: RateLimiter | undefined, bans: BanList | undefined, opts: SharedEdgeOptions) {
    this.#store = store;
    this.#bans = bans;
    this.#opts = opts;
    this.failure = opts.failure;
    limiter?.shareWith(this);
    bans?.shareWith(this);
  }

  async start(): Promise<void> {
    await this.#store.start();
    await this.#resync();
    this.#timer = setInterval(() => void this.#resync(), this.#opts.resyncMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#store.close();
  }

  /** An announcement from the store's channel. */
  changed(c: BanChange, now = Date.now()): void {
    if (c.kind === 'lift') this.#bans?.drop(c.client);
    else this.#bans?.put({ client: c.client, until: now + c.remainingMs, reason: c.reason, shared: true });
  }

  take(rule: string, key: string, perSecond: number, burst: number): Promise<{ allowed: boolean; waitMs: number }> {
    return this.#store.take(rule, key, perSecond, burst).then(
      (r) => {
        this.#ok();
        return r;
      },
      (err: unknown) => this.#failed(err),
    );
  }

  strike(client: string, reason: string, fallback: () => void): void {
    const bans = this.#bans;
    if (bans === undefined) return;
    const { windowMs, after, durationMs } = bans.settings;
    this.#store.strike(client, reason, windowMs, after, durationMs).then(
      (ends) => {
        this.#ok();
        if (ends > 0) bans.put({ client, until: Date.now() + durationMs, reason, shared: true });
      },
      (err: unknown) => {
        fallback();
        this.#failed(err).catch(() => undefined);
      },
    );
  }

  lift(client: string): void {
    this.#store.lift(client).catch((err: unknown) => this.#failed(err).catch(() => undefined));
  }

  async #resync(): Promise<void> {
    const bans = this.#bans;
    if (bans === undefined) return;
    try {
      const { now, bans: list } = await this.#store.bans();
      const here = Date.now();
      bans.replaceShared(list.map((b): Ban => ({ client: b.client, until: here + (b.until - now), reason: b.reason, shared: true })));
      this.#ok();
    } catch (err) {
      await this.#failed(err).catch(() => undefined);
    }
  }

  #ok(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#opts.logger.info('shared rate limits and bans: Redis answers again');
  }

  /** Logs the first failure of a run of them; rejects with `err` for the caller's fallback. */
  #failed(err: unknown): Promise<never> {
    if (!this.#failing) {
      this.#failing = true;
      this.#opts.logger.warn(
        { error: (err as Error).message, failure: this.failure },
        `shared rate limits and bans: Redis does not answer; rate limits ${this.failure === 'open' ? "go by this balancer's own buckets" : 'refuse (503)'}, strikes are counted here`,
      );
    }
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
