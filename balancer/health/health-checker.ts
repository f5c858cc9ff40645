import { Agent, request } from 'undici';
import type { Lifecycle } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import { INITIAL_HEALTH, inTransition, nextHealth, type CheckOutcome, type HealthState, type HealthStatus, type HealthThresholds } from './health-state.js';

export interface CheckResult {
  readonly outcome: CheckOutcome;
  readonly at: number;
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly error?: string;
}

/** All the checker knows of the rest of the balancer. */
export type HealthSink = (id: string, status: HealthStatus, last: CheckResult) => void;

export interface HealthTarget {
  readonly id: string;
  readonly url: string;
}

export interface HealthChecker extends Lifecycle {
  /** Starts checking a target; idempotent. A changed URL restarts its state. */
  watch(target: HealthTarget): void;
  unwatch(id: string): void;
  /** A hint from live traffic (a refused or reset connection): check this target soon. */
  checkSoon(id: string): void;
  state(id: string): { readonly health: HealthState; readonly last?: CheckResult } | undefined;
}

export interface HttpHealthCheckerOptions extends HealthThresholds {
  readonly path: string;
  readonly intervalMs: number;
  readonly fastIntervalMs: number;
  readonly timeoutMs: number;
  readonly sink: HealthSink;
  readonly logger: Logger;
  readonly now?: () => number;
}

interface Watched {
  readonly target: HealthTarget;
  health: HealthState;
  last?: CheckResult;
  timer?: NodeJS.Timeout;
  running: boolean;
  soon: boolean;
  closed: boolean;
}

/**
 * Active HTTP checks: GET <url><path> on a fresh connection, pass on 2xx/3xx
 * within the timeout. Each target runs on its own timer: every `intervalMs`
 * when settled, every `fastIntervalMs` while a change of status is being
 * counted. Status changes are logged and reported to the sink.
 */
export class HttpHealthChecker implements HealthChecker {
  readonly #opts: HttpHealthCheckerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #targets = new Map<string, Watched>();
  readonly #agent: Agent;
  #started = false;

  constructor(opts: HttpHealthCheckerOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#agent = new Agent({ connections: 2, pipelining: 0, connectTimeout: opts.timeoutMs });
    (this.#agent as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  }

  async start(): Promise<void> {
    this.#started = true;
    for (const w of this.#targets.values()) this.#schedule(w, 0);
  }

  async close(): Promise<void> {
    this.#started = false;
    for (const w of this.#targets.values()) this.#stop(w);
    this.#targets.clear();
    await this.#agent.destroy().catch(() => undefined);
  }

  watch(target: HealthTarget): void {
    const existing = this.#targets.get(target.id);
    if (existing && existing.target.url === target.url) return;
    if (existing) this.#stop(existing);
    const w: Watched = { target, health: INITIAL_HEALTH, running: false, soon: false, closed: false };
    this.#targets.set(target.id, w);
    if (this.#started) this.#schedule(w, 0);
  }

  unwatch(id: string): void {
    const w = this.#targets.get(id);
    if (!w) return;
    this.#stop(w);
    this.#targets.delete(id);
  }

  checkSoon(id: string): void {
    const w = this.#targets.get(id);
    if (!w || w.closed || !this.#started) return;
    if (w.running) {
      w.soon = true;
      return;
    }
    // At most one extra check per fast interval, however many requests fail.
    const since = w.last ? this.#now() - w.last.at : Infinity;
    this.#schedule(w, Math.max(0, this.#opts.fastIntervalMs - since));
  }

  state(id: string): { readonly health: HealthState; readonly last?: CheckResult } | undefined {
    const w = this.#targets.get(id);
    return w ? { health: w.health, last: w.last } : undefined;
  }

  #stop(w: Watched): void {
    w.closed = true;
    if (w.timer) clearTimeout(w.timer);
    w.timer = undefined;
  }

  #schedule(w: Watched, delayMs: number): void {
    if (w.closed) return;
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      w.timer = undefined;
      void this.#run(w);
    }, delayMs);
    w.timer.unref();
  }

  async #run(w: Watched): Promise<void> {
    if (w.closed || w.running) return;
    w.running = true;
    w.soon = false;
    const result = await this.#probe(w.target);
    w.running = false;
    if (w.closed) return;
    w.last = result;
    const before = w.health;
    w.health = nextHealth(before, result.outcome, this.#opts);
    if (w.health.status !== before.status) {
      const fields = { backendId: w.target.id, url: w.target.url, from: before.status, to: w.health.status, outcome: result.outcome, statusCode: result.statusCode, error: result.error, durationMs: result.durationMs };
      if (w.health.status === 'healthy') this.#log.info(fields, 'backend is healthy');
      else this.#log.warn(fields, 'backend is unhealthy');
      this.#opts.sink(w.target.id, w.health.status, result);
    }
    const next = w.soon ? 0 : inTransition(w.health) ? this.#opts.fastIntervalMs : this.#opts.intervalMs;
    this.#schedule(w, next);
  }

  async #probe(target: HealthTarget): Promise<CheckResult> {
    const started = this.#now();
    const t0 = performance.now();
    try {
      const res = await request(target.url + this.#opts.path, {
        method: 'GET',
        dispatcher: this.#agent,
        headers: { 'user-agent': 'switchyard-health-check', accept: '*/*' },
        headersTimeout: this.#opts.timeoutMs,
        bodyTimeout: this.#opts.timeoutMs,
        reset: true,
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
      });
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      const durationMs = Math.round(performance.now() - t0);
      const ok = res.statusCode >= 200 && res.statusCode < 400;
      return { outcome: ok ? 'pass' : 'fail', at: started, durationMs, statusCode: res.statusCode };
    } catch (err) {
      const e = err as { code?: string; name?: string; message?: string };
      const durationMs = Math.round(performance.now() - t0);
      const code = e.code ?? e.name ?? 'error';
      return { outcome: code === 'ECONNREFUSED' ? 'refused' : 'fail', at: started, durationMs, error: code === 'TimeoutError' ? 'timeout' : code };
    }
  }
}

/** Used when health checks are turned off: every target is reported healthy at once. */
export class NoHealthChecker implements HealthChecker {
  readonly #sink: HealthSink;
  constructor(sink: HealthSink) {
    this.#sink = sink;
  }
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  watch(target: HealthTarget): void {
    this.#sink(target.id, 'healthy', { outcome: 'pass', at: Date.now(), durationMs: 0 });
  }
  unwatch(): void {}
  checkSoon(): void {}
  state(): undefined {
    return undefined;
  }
}
