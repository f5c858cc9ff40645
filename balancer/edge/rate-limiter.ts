import type { ErrorCode } from '../../common/errors.js';
import { rawHeaderValue } from '../forward/request-policy.js';
import { BanList, type BanSettings } from './ban-list.js';
import { ruleFor, type RateLimitKey, type RateLimitRule } from './rate-limit-rules.js';
import { TokenBuckets } from './token-buckets.js';

/** How often full buckets are dropped (during a check, at most this often). */
const SWEEP_EVERY_MS = 10_000;

/** A refused request: how long to wait, and the fields that say so (flat [name, value, ...]). */
export interface RateLimited {
  readonly retryAfterSeconds: number;
  readonly headers: readonly string[];
  /** The answer, when not SWY_RATE_LIMITED (the shared store unreachable, failing closed). */
  readonly code?: ErrorCode;
}

/** The answer is coming from the shared store: the waiter hears it. */
export const RATE_PENDING = 'pending';

/** What waits for an answer from the shared store (the request core's exchange). */
export interface RateWaiter {
  rateDecided(limited: RateLimited | undefined): void;
}

/** What the limiter asks of the store shared by every balancer (shared-edge.ts). */
export interface SharedBuckets {
  take(rule: string, key: string, perSecond: number, burst: number): Promise<{ allowed: boolean; waitMs: number }>;
  /** While the store cannot answer: 'open' goes by this balancer's own buckets, 'closed' refuses (503). */
  readonly failure: 'open' | 'closed';
}

const UNAVAILABLE: RateLimited = { retryAfterSeconds: 1, headers: [], code: 'SWY_RATE_LIMIT_UNAVAILABLE' };

export interface RateLimitSettings {
  readonly rules: readonly RateLimitRule[];
  readonly key: RateLimitKey;
  /** Clients tracked per rule; past it, new ones share one bucket. */
  readonly maxKeys: number;
}

/** The limiter and the ban list for the settings (each undefined when not configured). */
export function edgeGuards(
  s: { readonly rateLimits?: RateLimitSettings; readonly bans?: BanSettings },
  now = Date.now(),
): { rateLimiter?: RateLimiter; bans?: BanList } {
  const r = s.rateLimits;
  return {
    ...(r === undefined ? {} : { rateLimiter: new RateLimiter(r.rules, r.key, r.maxKeys, now) }),
    ...(s.bans === undefined ? {} : { bans: new BanList(s.bans) }),
  };
}

export interface RateLimitStatus {
  readonly key: string;
  readonly maxKeys: number;
  /** Where the buckets are: this process, or Redis shared by every balancer. */
  readonly store: 'memory' | 'redis';
  /** Checks the shared store could not answer (each went by --edge-store-failure). */
  readonly storeFailures: number;
  readonly rules: readonly {
    readonly rule: string;
    readonly prefix: string;
    readonly perSecond: number;
    readonly burst: number;
    readonly clients: number;
    readonly allowed: number;
    readonly refused: number;
  }[];
}

/**
 * Rate limits by client (docs/edge.md): each request is counted against the rule for its
 * path, in the bucket of its client key. A refused request gets 429 with `Retry-After` and
 * the `RateLimit-Policy` / `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers-11.
 * Rules can be replaced while running (the admin API); counts then start again.
 *
 * Shared (`--edge-store redis`): a request this balancer's own bucket allows
 * then takes a token from the client's bucket in Redis, which every balancer
 * takes from, so the limit holds across all of them; the answer comes back to
 * the waiter. A client its own bucket already refuses is refused at once, with
 * no round trip (over N balancers a client gets at most the limit, and an
 * attacker's refused requests cost Redis nothing). Clients past `maxKeys`
 * stay local, so no flood of keys reaches Redis either.
 */
export class RateLimiter {
  readonly key: RateLimitKey;
  readonly #maxKeys: number;
  #shared: SharedBuckets | undefined;
  storeFailures = 0;
  #buckets: TokenBuckets[] = [];
  #rules: readonly RateLimitRule[] = [];
  #sweptAt: number;

  constructor(rules: readonly RateLimitRule[], key: RateLimitKey, maxKeys: number, now: number) {
    this.key = key;
    this.#maxKeys = maxKeys;
    this.#sweptAt = now;
    this.setRules(rules, now);
  }

  get rules(): readonly RateLimitRule[] {
    return this.#rules;
  }

  setRules(rules: readonly RateLimitRule[], now: number): void {
    this.#rules = rules;
    this.#buckets = rules.map((r) => new TokenBuckets(r, this.#maxKeys, now));
  }

  /** Takes tokens from `shared` too, from now on. */
  shareWith(shared: SharedBuckets): void {
    this.#shared = shared;
  }

  /**
   * Undefined when the request may go on; else what to answer; RATE_PENDING
   * when the shared store answers later (to `waiter`, which must be given for that).
   */
  check(path: string, clientIp: string, headers: readonly string[], now: number): RateLimited | undefined;
  check(path: string, clientIp: string, headers: readonly string[], now: number, waiter: RateWaiter): RateLimited | undefined | typeof RATE_PENDING;
  check(path: string, clientIp: string, headers: readonly string[], now: number, waiter?: RateWaiter): RateLimited | undefined | typeof RATE_PENDING {
    if (this.#rules.length === 0) return undefined;
    const rule = ruleFor(this.#rules, path);
    if (rule === undefined) return undefined;
    if (now - this.#sweptAt > SWEEP_EVERY_MS) this.#sweep(now);
    const buckets = this.#buckets[this.#rules.indexOf(rule)]!;
    const key = this.#keyOf(clientIp, headers);
    const t = buckets.take(key, now);
    if (!t.allowed) return refusal(rule, t.retryAfterSeconds);
    const shared = this.#shared;
    if (shared === undefined || waiter === undefined || !t.tracked) return undefined;
    shared.take(rule.name, key, rule.perSecond, rule.burst).then(
      (r) => {
        if (r.allowed) return waiter.rateDecided(undefined);
        buckets.refusedElsewhere();
        waiter.rateDecided(refusal(rule, Math.max(1, Math.ceil(r.waitMs / 1000))));
      },
      () => {
        this.storeFailures++;
        waiter.rateDecided(shared.failure === 'closed' ? UNAVAILABLE : undefined);
      },
    );
    return RATE_PENDING;
  }

  status(): RateLimitStatus {
    const k = this.key;
    return {
      key: k.kind === 'ip' ? 'ip' : `${k.kind}:${k.name}`,
      maxKeys: this.#maxKeys,
      store: this.#shared === undefined ? 'memory' : 'redis',
      storeFailures: this.storeFailures,
      rules: this.#buckets.map((b) => ({
        rule: b.rule.name,
        prefix: b.rule.prefix,
        perSecond: b.rule.perSecond,
        burst: b.rule.burst,
        clients: b.keys,
        allowed: b.allowed,
        refused: b.refused,
      })),
    };
  }

  #keyOf(clientIp: string, headers: readonly string[]): string {
    const k = this.key;
    if (k.kind === 'ip') return clientIp;
    const value = k.kind === 'header' ? rawHeaderValue(headers, k.name) : cookieValue(rawHeaderValue(headers, 'cookie'), k.name);
    // Without the header or cookie, the client's address: leaving it out cannot get around the limit.
    return value === undefined || value === '' ? `ip:${clientIp}` : `${k.kind}:${value}`;
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const b of this.#buckets) b.sweep(now);
  }
}

/** The 429 for `rule`, with the RateLimit fields of draft-ietf-httpapi-ratelimit-headers-11. */
function refusal(rule: RateLimitRule, retryAfterSeconds: number): RateLimited {
  const policy = `"${quoted(rule.prefix)}";q=${rule.burst};w=${Math.max(1, Math.ceil(rule.burst / rule.perSecond))}`;
  return { retryAfterSeconds, headers: ['ratelimit-policy', policy, 'ratelimit', `"${quoted(rule.prefix)}";r=0;t=${retryAfterSeconds}`] };
}

/** A prefix as the inside of a structured-field string: only printable ASCII, `"` and `\\` escaped. */
function quoted(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
