import { Pool } from 'undici';

export interface SoakLoadOptions {
  readonly url: string;
  readonly connections: number;
  /** Stop after this many requests ... */
  readonly requests: number;
  /** ... or after this long, whichever comes first. */
  readonly maxDurationMs: number;
  /** Share of requests the client aborts mid-flight (0..1). */
  readonly abortShare: number;
  /** Aborted requests ask for a response this slow ... */
  readonly slowPathMs: number;
  /** ... and are aborted after this long, while the balancer waits on the backend. */
  readonly abortAfterMs: number;
  readonly random?: () => number;
}

export interface SoakCounts {
  sent: number;
  ok: number;
  non2xx: number;
  aborted: number;
  errors: number;
  lastError: string | undefined;
}

/**
 * Bounded soak load: `connections` loops, each sending one request at a time
 * through its own undici Pool slot. A share of requests go to a slow path
 * and are aborted mid-flight, which closes the client connection while the
 * balancer has the request open upstream.
 */
export class SoakLoad {
  readonly counts: SoakCounts = { sent: 0, ok: 0, non2xx: 0, aborted: 0, errors: 0, lastError: undefined };
  readonly #opts: SoakLoadOptions;
  readonly #pool: Pool;
  #stopped = false;

  constructor(opts: SoakLoadOptions) {
    this.#opts = opts;
    this.#pool = new Pool(opts.url, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 10_000 });
  }

  get done(): number {
    const c = this.counts;
    return c.ok + c.non2xx + c.aborted + c.errors;
  }

  stop(): void {
    this.#stopped = true;
  }

  async run(): Promise<void> {
    const deadline = Date.now() + this.#opts.maxDurationMs;
    const loops = Array.from({ length: this.#opts.connections }, () => this.#loop(deadline));
    await Promise.all(loops);
    await this.#pool.close();
  }

  async #loop(deadline: number): Promise<void> {
    const o = this.#opts;
    const random = o.random ?? Math.random;
    const c = this.counts;
    while (!this.#stopped && c.sent < o.requests && Date.now() < deadline) {
      c.sent++;
      const abort = random() < o.abortShare;
      const ac = abort ? new AbortController() : undefined;
      const timer = ac ? setTimeout(() => ac.abort(), o.abortAfterMs) : undefined;
      try {
        const res = await this.#pool.request({ path: abort ? `/delay/${o.slowPathMs}` : '/', method: 'GET', signal: ac?.signal });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) c.ok++;
        else c.non2xx++;
      } catch (err) {
        if (ac?.signal.aborted) c.aborted++;
        else {
          c.errors++;
          c.lastError = (err as Error).message;
        }
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
