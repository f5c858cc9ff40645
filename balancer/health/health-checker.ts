import type { Lifecycle } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import { probe, probeTarget, type ProbeResult, type ProbeTarget } from './http-probe.js';
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
  /*
   * start() begins checking and resolves once the first round of checks of the
   * targets watched so far has completed (bounded by the check timeout), so a
   * balancer opens its listener with its backends' health known (warm start).
   */
  /** Starts checking a target; idempotent. A changed URL restarts its state. */
  watch(target: HealthTarget): void;
  unwatch(id: string): void;
  /** A hint from live traffic (a refused or reset connection): check this target soon. */
  checkSoon(id: string): void;
  state(id: string): { readonly health: HealthState; readonly last?: CheckResult } | undefined;
}

/** The balancer's health-check settings (--health-* flags). */
export interface HealthCheckSettings {
  readonly enabled: boolean;
  readonly path: string;
  readonly intervalMs: number;
  readonly fastIntervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
}

export interface HttpHealthCheckerOptions extends HealthThresholds {
  readonly path: string;
  readonly intervalMs: number;
  readonly fastIntervalMs: number;
  readonly timeoutMs: number;
  readonly sink: HealthSink;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Most checks in flight at once, fixed; by default it follows the number of targets (checkConcurrency). */
  readonly maxConcurrent?: number;
  /** Source of the spread of later checks over the interval (tests pass a fixed one). */
  readonly random?: () => number;
  /** Runs one check (tests pass one that throws). */
  readonly probe?: (target: ProbeTarget, timeoutMs: number) => Promise<ProbeResult>;
}

/** Checks in flight at once, at least and at most (see checkConcurrency). */
const MIN_CONCURRENT = 128;
const MAX_CONCURRENT = 1024;
const USER_AGENT = 'switchyard-health-check';

/**
 * How many checks may be in flight at once for `targets` backends whose checks
 * hold a slot `slotMs` each on average (answered or timed out). A round holds
 * targets × slotMs of slot time and must fit in one interval: with fewer slots
 * the queue grows round after round, and the checks of healthy backends wait
 * behind silent ones. Twice that figure leaves room for checks landing
 * unevenly (spread at random over the interval) and for rechecks at the fast
 * interval. Never fewer than 128 (a small set costs nothing to check at once),
 * never more than 1024 connections. The slot time is measured, not assumed to
 * be the timeout, and only silence counts (the caller passes the mean wait of
 * timed-out checks, answers counting 0): 10,000 healthy backends need 128
 * slots, and opening 1,024 connections at once would only cost the proxy
 * event-loop time (measured: event-loop delay max 53 ms against 173 ms with
 * 10,000 backends), while silent ones raise the measure towards the timeout,
 * and the limit with it.
 */
export function checkConcurrency(targets: number, slotMs: number, intervalMs: number): number {
  const needed = Math.ceil((2 * targets * slotMs) / intervalMs);
  return Math.min(MAX_CONCURRENT, Math.max(MIN_CONCURRENT, needed));
}

/** Weight of the newest check in the running mean of slot time (checkConcurrency). */
const SLOT_TIME_WEIGHT = 1 / 16;

interface Watched {
  readonly target: HealthTarget;
  /** What each check sends, built at the first check (not when 10,000 targets are watched at once); null for a URL no check can reach. */
  probe: ProbeTarget | null | undefined;
  health: HealthState;
  last?: CheckResult;
  timer?: NodeJS.Timeout;
  running: boolean;
  /** Waiting for one of the check slots. */
  queued: boolean;
  soon: boolean;
  closed: boolean;
}

/** The first round of checks after start: who is still to be checked, and who waits for it. */
interface FirstRound {
  readonly pending: Set<string>;
  readonly done: () => void;
}

/**
 * Active HTTP checks: GET <url><path> on a fresh connection, pass on 2xx/3xx
 * within the timeout. Each target runs on its own timer: every `intervalMs`
 * when settled, every `fastIntervalMs` while a change of status is being
 * counted. Status changes are logged and reported to the sink.
 *
 * The first check of every target runs at once; the next one lands at a
 * random point of the interval, so 10,000 targets checked together at start
 * are not checked together ever after. At most `maxConcurrent` checks run at
 * once (by default as many as a round of silent targets needs, see
 * checkConcurrency); the others wait for a slot, and their timeout starts with
 * the check. A check that throws is a failed check: it gives its slot back.
 */
export class HttpHealthChecker implements HealthChecker {
  readonly #opts: HttpHealthCheckerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #targets = new Map<string, Watched>();
  readonly #random: () => number;
  readonly #probeFn: (target: ProbeTarget, timeoutMs: number) => Promise<ProbeResult>;
  readonly #waiting: Watched[] = [];
  #inFlight = 0;
  /** Running mean of the time a check holds its slot waiting for nothing, in ms: a timeout's duration, 0 for an answer. */
  #slotMs = 0;
  #kick: NodeJS.Immediate | undefined;
  #started = false;
  #firstRound: FirstRound | undefined;

  constructor(opts: HttpHealthCheckerOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.#probeFn = opts.probe ?? probe;
  }

  /** Checks every target once at once and resolves when all have an answer, or after the check timeout (and the queue) allows no more waiting. */
  start(): Promise<void> {
    this.#started = true;
    const targets = [...this.#targets.values()];
    for (const w of targets) this.#schedule(w, 0);
    if (targets.length === 0) return Promise.resolve();
    const t0 = this.#now();
    // Checks run #limit() at a time, each within the timeout, and the limit only grows from here (nothing is
    // measured yet: 128): the round cannot take longer than this. Silent targets raise the limit as they time
    // out, so in practice a round of them ends far sooner (600 silent ones: about one timeout).
    const boundMs = this.#opts.timeoutMs * Math.ceil(targets.length / this.#limit()) + 100;
    return new Promise<void>((resolve) => {
      const finish = (timedOut: boolean): void => {
        if (this.#firstRound !== round) return;
        this.#firstRound = undefined;
        clearTimeout(timer);
        const healthy = targets.filter((w) => w.health.status === 'healthy').length;
        this.#log.info(
          { targets: targets.length, healthy, unchecked: round.pending.size, ms: this.#now() - t0, timedOut },
          'first round of health checks done',
        );
        resolve();
      };
      const round: FirstRound = { pending: new Set(targets.map((w) => w.target.id)), done: () => finish(false) };
      const timer = setTimeout(() => finish(true), boundMs);
      timer.unref();
      this.#firstRound = round;
    });
  }

  async close(): Promise<void> {
    this.#started = false;
    for (const w of this.#targets.values()) this.#stop(w);
    this.#targets.clear();
    this.#waiting.length = 0;
    if (this.#kick) clearImmediate(this.#kick);
    this.#kick = undefined;
    this.#firstRound?.done();
  }

  watch(target: HealthTarget): void {
    const existing = this.#targets.get(target.id);
    if (existing && existing.target.url === target.url) return;
    if (existing) this.#stop(existing);
    const w: Watched = { target, probe: undefined, health: INITIAL_HEALTH, running: false, queued: false, soon: false, closed: false };
    this.#targets.set(target.id, w);
    if (this.#started) this.#schedule(w, 0);
  }

  unwatch(id: string): void {
    const w = this.#targets.get(id);
    if (!w) return;
    this.#stop(w);
    this.#targets.delete(id);
    this.#checked(id);
  }

  checkSoon(id: string): void {
    const w = this.#targets.get(id);
    if (!w || w.closed || !this.#started) return;
    if (w.queued) return;
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
    w.timer = undefined;
    if (delayMs <= 0) return this.#enqueue(w);
    w.timer = setTimeout(() => {
      w.timer = undefined;
      void this.#run(w);
    }, delayMs);
    w.timer.unref();
  }

  /** Checks in flight at once: fixed by the options, or following the number of targets. */
  #limit(): number {
    return this.#opts.maxConcurrent ?? checkConcurrency(this.#targets.size, this.#slotMs, this.#opts.intervalMs);
  }

  /** Takes a check slot, or waits in line for one. Never rejects: it runs from timers with nobody to hear it. */
  async #run(w: Watched): Promise<void> {
    if (w.closed || w.running || w.queued) return;
    if (this.#inFlight >= this.#limit()) {
      w.queued = true;
      this.#waiting.push(w);
      return;
    }
    this.#inFlight++;
    try {
      await this.#check(w);
    } catch (err) {
      // A failing probe is a failed check (#probe); this is the sink or the logger throwing. The slot is given back all the same.
      this.#log.error({ err, backendId: w.target.id }, 'health check result could not be recorded');
    } finally {
      this.#inFlight--;
      this.#next();
    }
  }

  /** Due now: in line for a slot, started on the next turn of the event loop (no timer each: 10,000 arrive in one snapshot). */
  #enqueue(w: Watched): void {
    if (w.queued) return;
    if (w.running) {
      w.soon = true;
      return;
    }
    w.queued = true;
    this.#waiting.push(w);
    this.#kick ??= setImmediate(() => {
      this.#kick = undefined;
      this.#next();
    });
  }

  #next(): void {
    const limit = this.#limit();
    while (this.#inFlight < limit && this.#waiting.length) {
      const w = this.#waiting.shift()!;
      w.queued = false;
      if (!w.closed) void this.#run(w);
    }
  }

  #checked(id: string): void {
    const round = this.#firstRound;
    if (round && round.pending.delete(id) && round.pending.size === 0) round.done();
  }

  async #check(w: Watched): Promise<void> {
    w.running = true;
    w.soon = false;
    const result = await this.#probe(w);
    w.running = false;
    // Only a timed-out check counts its wait: a slot held by silence does nothing. A slow answer is
    // work (a busy backend, or this process's own event loop), and more checks at once would add to it.
    this.#slotMs += ((result.error === 'timeout' ? result.durationMs : 0) - this.#slotMs) * SLOT_TIME_WEIGHT;
    if (w.closed) return;
    const first = w.last === undefined;
    try {
      this.#record(w, result);
    } finally {
      // Whatever the sink did, the first round hears of this target and its checks go on.
      if (first) this.#checked(w.target.id);
      this.#schedule(w, this.#nextDelay(w, first));
    }
  }

  /** Counts the result, and logs and reports a change of status. */
  #record(w: Watched, result: CheckResult): void {
    w.last = result;
    const before = w.health;
    w.health = nextHealth(before, result.outcome, this.#opts);
    if (w.health.status !== before.status) {
      const fields = {
        backendId: w.target.id,
        url: w.target.url,
        from: before.status,
        to: w.health.status,
        outcome: result.outcome,
        statusCode: result.statusCode,
        error: result.error,
        durationMs: result.durationMs,
      };
      // A new backend passing its first check is routine (10,000 of them at start): debug; coming back is news.
      if (w.health.status === 'healthy') this.#log[before.status === 'unknown' ? 'debug' : 'info'](fields, 'backend is healthy');
      else this.#log.warn(fields, 'backend is unhealthy');
      this.#opts.sink(w.target.id, w.health.status, result);
    }
  }

  #nextDelay(w: Watched, first: boolean): number {
    const settled = w.soon ? 0 : inTransition(w.health) ? this.#opts.fastIntervalMs : this.#opts.intervalMs;
    // After the first check, a settled target's next one lands anywhere in the interval: start-up bursts do not repeat.
    return first && settled === this.#opts.intervalMs ? Math.max(1, Math.round(this.#random() * this.#opts.intervalMs)) : settled;
  }

  /** One check of `w`; never rejects: a probe that throws or rejects is a failed check. */
  async #probe(w: Watched): Promise<CheckResult> {
    const at = this.#now();
    const t0 = performance.now();
    try {
      if (w.probe === undefined) w.probe = probeTarget(w.target.url, this.#opts.path, USER_AGENT) ?? null;
      if (w.probe === null) return { outcome: 'fail', at, durationMs: 0, error: 'bad url' };
      const r = await this.#probeFn(w.probe, this.#opts.timeoutMs);
      const durationMs = Math.round(performance.now() - t0);
      if ('status' in r) return { outcome: r.status >= 200 && r.status < 400 ? 'pass' : 'fail', at, durationMs, statusCode: r.status };
      return { outcome: r.error === 'ECONNREFUSED' ? 'refused' : 'fail', at, durationMs, error: r.error };
    } catch (err) {
      // A probe that throws (a connect refusing its address outright) is a failed check, not a target left running for ever.
      const e = err as { code?: unknown; message?: unknown };
      const error = typeof e?.code === 'string' ? e.code : typeof e?.message === 'string' ? e.message : String(err);
      return { outcome: 'fail', at, durationMs: Math.round(performance.now() - t0), error };
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

/** The checker the settings ask for: HTTP checks, or, with checks off, every backend healthy at once. A refused connection fails a check at once. */
export function createHealthChecker(settings: HealthCheckSettings, sink: HealthSink, logger: Logger, now: () => number): HealthChecker {
  if (!settings.enabled) return new NoHealthChecker(sink);
  const { path, intervalMs, fastIntervalMs, timeoutMs, rise, fall } = settings;
  return new HttpHealthChecker({ path, intervalMs, fastIntervalMs, timeoutMs, rise, fall, refusedIsFatal: true, sink, logger, now });
}
