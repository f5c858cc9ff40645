import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

/** One request of a chaos run, as the load saw it. Times in ms from the start of the load. */
export interface RequestRecord {
  readonly id: string;
  readonly method: 'GET' | 'POST';
  readonly sentMs: number;
  doneMs: number;
  /** HTTP status, or 0 when no response came. */
  status: number;
  /** X-Backend of the response, when it had one. */
  backend: string | undefined;
  /** The answer the backend gives without a fault: 200, and the echo of this very request. */
  ok: boolean;
  /** Why not ok: 'status 502', 'timeout', 'reset', 'wrong body'. */
  error: string | undefined;
}

export interface ChaosLoadOptions {
  readonly url: string;
  readonly connections: number;
  /** Requests per second over all connections; undefined: as fast as answered. */
  readonly rate: number | undefined;
  readonly durationMs: number;
  /** Share of POST requests (the rest GET). */
  readonly post: number;
  readonly timeoutMs: number;
  /** Prefix of every X-Request-Id, so a run's requests can be told apart in logs. */
  readonly idPrefix: string;
  readonly random?: () => number;
}

interface Echo {
  readonly method?: string;
  readonly headers?: Record<string, unknown>;
  readonly bodySha1?: string;
}

const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');

/**
 * The load of a chaos run: `connections` loops, each sending one request at a
 * time to the demo backend's /echo through the balancer, every request with
 * an X-Request-Id of its own and a record of what came back. A request counts
 * as answered only when it got 200 and the echo of itself (its id, method and
 * body), so a response that belonged to another request is caught.
 */
export class ChaosLoad {
  readonly records: RequestRecord[] = [];
  readonly #o: ChaosLoadOptions;
  readonly #pool: Pool;
  readonly #random: () => number;
  #t0 = 0;
  #next = 0;
  #stopped = false;

  constructor(o: ChaosLoadOptions) {
    this.#o = o;
    this.#random = o.random ?? Math.random;
    this.#pool = new Pool(new URL(o.url).origin, { connections: o.connections, pipelining: 1, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
    this.#pool.on('connectionError', () => undefined);
  }

  /** Milliseconds since the load started. */
  now(): number {
    return performance.now() - this.#t0;
  }

  /** Runs the load for its duration; resolves once every request sent got its answer or gave up. */
  async run(): Promise<void> {
    this.#t0 = performance.now();
    const loops = Array.from({ length: this.#o.connections }, () => this.#loop());
    await Promise.all(loops);
  }

  /** Stops sending (requests in flight still complete). */
  stop(): void {
    this.#stopped = true;
  }

  async close(): Promise<void> {
    await this.#pool.close().catch(() => undefined);
  }

  async #loop(): Promise<void> {
    const o = this.#o;
    while (!this.#stopped) {
      const n = this.#next++;
      if (o.rate !== undefined) {
        const due = (n * 1000) / o.rate;
        const wait = due - this.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      if (this.#stopped || this.now() >= o.durationMs) break;
      await this.#one(n);
    }
  }

  async #one(n: number): Promise<void> {
    const o = this.#o;
    const id = `${o.idPrefix}-${n}`;
    const method = this.#random() < o.post ? 'POST' : 'GET';
    const body = method === 'POST' ? Buffer.from(`chaos ${id} ${'x'.repeat(64)}`) : undefined;
    const rec: RequestRecord = { id, method, sentMs: this.now(), doneMs: 0, status: 0, backend: undefined, ok: false, error: undefined };
    this.records.push(rec);
    try {
      const res = await this.#pool.request({
        path: `/echo?chaos=${n}`,
        method,
        headers: { 'x-request-id': id, ...(body ? { 'content-type': 'text/plain' } : {}) },
        body,
      });
      rec.status = res.statusCode;
      const xb = res.headers['x-backend'];
      rec.backend = typeof xb === 'string' ? xb : undefined;
      const text = await res.body.text();
      rec.doneMs = this.now();
      if (res.statusCode !== 200) {
        rec.error = `status ${res.statusCode}`;
        return;
      }
      let echo: Echo;
      try {
        echo = JSON.parse(text) as Echo;
      } catch {
        rec.error = 'wrong body';
        return;
      }
      const same = echo.method === method && echo.headers?.['x-request-id'] === id && (body === undefined || echo.bodySha1 === sha1(body));
      rec.ok = same;
      if (!same) rec.error = 'wrong body';
    } catch (err) {
      rec.doneMs = this.now();
      const code = (err as { code?: string }).code ?? '';
      rec.error = code.includes('TIMEOUT') ? 'timeout' : 'reset';
    }
  }
}
