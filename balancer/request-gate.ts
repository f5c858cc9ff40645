import type { ErrorCode } from '../common/errors.js';
import type { RATE_PENDING, RateLimited, RateLimiter, RateWaiter } from './edge/rate-limiter.js';
import type { BanList } from './edge/ban-list.js';
import type { AdmissionHost, AdmissionRequest } from './forward/admission.js';
import { AdmissionControl, type AdmissionOptions, type AdmissionStatus } from './resilience/admission-control.js';
import { GradientConcurrencyLimit, type GradientLimitOptions } from './resilience/concurrency-limit.js';
import type { Outcome } from './resilience/outcome.js';
import type { RetryBudget } from './resilience/retry-budget.js';
import { WaitHistogram } from './stats/wait-histogram.js';

export type AdmissionSettings = AdmissionOptions & { readonly adaptive?: Partial<GradientLimitOptions> };

/** Where a CA fetches an HTTP-01 challenge (RFC 8555 §8.3). */
const ACME_PREFIX = '/.well-known/acme-challenge/';

/**
 * Every client request past the request policy goes through here, whatever
 * parsed it: counted, then let in under the in-flight cap (--max-in-flight),
 * queued, or refused; counted out when it ends. Graceful shutdown waits here
 * for the last one. With --adaptive-concurrency the cap follows latency.
 */
export class RequestGate implements AdmissionHost {
  /** Client requests open now. */
  inFlight = 0;
  /** Client requests received. */
  requestsTotal = 0;
  /** Client requests answered with an error from the catalogue, by code. */
  readonly errors = new Map<ErrorCode, number>();
  readonly admission: AdmissionControl | undefined;
  readonly limiter: GradientConcurrencyLimit | undefined;
  /** Time requests waited in the admission queue (empty without a cap). */
  readonly queueWait: WaitHistogram;
  readonly #retryBudget: RetryBudget;
  #idleWaiters: (() => void)[] = [];

  /** `retryBudget`: each admitted request deposits its share of a retry. */
  /** Rate limits by client, when configured. */
  readonly rateLimiter: RateLimiter | undefined;

  /** Automatic bans, when configured. */
  readonly bans: BanList | undefined;

  constructor(settings: AdmissionSettings | undefined, retryBudget: RetryBudget, edge: { rateLimiter?: RateLimiter; bans?: BanList } = {}) {
    this.#retryBudget = retryBudget;
    this.rateLimiter = edge.rateLimiter;
    this.bans = edge.bans;
    if (settings) {
      this.admission = new AdmissionControl(settings);
      if (settings.adaptive) {
        this.limiter = new GradientConcurrencyLimit({ maxLimit: settings.maxInFlight, ...settings.adaptive });
        this.admission.setLimit(this.limiter.limit);
      }
    }
    this.queueWait = this.admission?.queueWait ?? new WaitHistogram();
  }

  admit(r: AdmissionRequest): void {
    this.inFlight++;
    this.requestsTotal++;
    this.#retryBudget.deposit();
    const admission = this.admission;
    if (admission === undefined || admission.tryGrant()) {
      r.admitted();
      return;
    }
    const a = admission.tryAcquire(r.queue);
    if (a.status === 'granted') r.admitted();
    else if (a.status === 'rejected') this.#refuse(r, 'SWY_QUEUE_FULL');
    else {
      r.queue.hold(a.ticket);
      r.queued();
    }
  }

  /** HTTP-01 answers of automatic certificates (set when --acme-domains is). */
  acme: { answer(token: string): string | undefined } | undefined;

  acmeAnswer(path: string): string | undefined {
    const acme = this.acme;
    if (acme === undefined || !path.startsWith(ACME_PREFIX)) return undefined;
    return acme.answer(path.slice(ACME_PREFIX.length));
  }

  rateLimited(path: string, clientIp: string, headers: readonly string[], waiter: RateWaiter): RateLimited | undefined | typeof RATE_PENDING {
    return this.rateLimiter?.check(path, clientIp, headers, Date.now(), waiter);
  }

  bannedFor(clientIp: string): number | undefined {
    if (this.bans === undefined) return undefined;
    const now = Date.now();
    const ban = this.bans.banned(clientIp, now);
    return ban === undefined ? undefined : Math.max(1, Math.ceil((ban.until - now) / 1000));
  }

  strike(clientIp: string, code: ErrorCode): void {
    // A client on the deny list is refused every time already.
    if (this.bans !== undefined && code !== 'SWY_FORBIDDEN') this.bans.strike(clientIp, code, Date.now());
  }

  queuedTimedOut(r: AdmissionRequest): void {
    this.#refuse(r, 'SWY_QUEUE_TIMEOUT');
  }

  queuedLeft(): void {
    this.#ended();
  }

  requestRefused(): void {
    this.requestsTotal++;
  }

  requestDone(): void {
    this.admission?.release();
    this.#ended();
  }

  countError(code: ErrorCode): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** An attempt ended: a success's latency moves the adaptive cap. */
  attemptEnded(outcome: Outcome, latencyMs: number, now: number): void {
    const limiter = this.limiter;
    if (limiter === undefined || outcome !== 'success') return;
    const before = limiter.limit;
    const after = limiter.update(latencyMs, this.admission!.inFlight, now);
    if (after !== before) this.admission!.setLimit(after);
  }

  /** The cap, the queue and the adaptive limiter for the admin API; undefined without a cap. */
  status(): (AdmissionStatus & { adaptive: boolean; limiter: ReturnType<GradientConcurrencyLimit['status']> | null }) | undefined {
    const a = this.admission?.status();
    return a ? { ...a, adaptive: this.limiter !== undefined, limiter: this.limiter?.status() ?? null } : undefined;
  }

  /** Resolves true once no request is in flight, or false after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Queued requests are answered; nothing is admitted after this. */
  close(): void {
    this.admission?.close();
  }

  #refuse(r: AdmissionRequest, code: ErrorCode): void {
    this.countError(code);
    r.refused(code, this.admission!.retryAfterSeconds());
    this.#ended();
  }

  #ended(): void {
    if (--this.inFlight === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
