import type { RateLimitRule } from './rate-limit-rules.js';

/** A client's bucket: tokens left when last counted, and when. */
interface Bucket {
  tokens: number;
  at: number;
}

/** The answer for one request. */
export interface Take {
  readonly allowed: boolean;
  /** Requests the client may still send at once. */
  readonly remaining: number;
  /** Seconds until the bucket is full again. */
  readonly resetSeconds: number;
  /** When refused: seconds until one request is allowed again (at least 1). */
  readonly retryAfterSeconds: number;
  /** The client has a bucket of its own (false: the table was full and it shares the overflow bucket). */
  readonly tracked: boolean;
}

/**
 * Token buckets for one rule, one per client key: a bucket holds up to `burst`
 * tokens, refills at `perSecond`, and each request takes one. Memory is bounded by
 * `maxKeys`: `sweep` drops buckets that have refilled (they hold nothing a new one
 * would not), and while the table is full, clients it does not know share one bucket.
 */
export class TokenBuckets {
  readonly rule: RateLimitRule;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #overflow: Bucket;
  allowed = 0;
  refused = 0;

  constructor(rule: RateLimitRule, maxKeys: number, now: number) {
    this.rule = rule;
    this.#maxKeys = maxKeys;
    this.#overflow = { tokens: rule.burst, at: now };
  }

  get keys(): number {
    return this.#buckets.size;
  }

  take(key: string, now: number): Take {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size < this.#maxKeys) {
        b = { tokens: this.rule.burst, at: now };
        this.#buckets.set(key, b);
      } else b = this.#overflow;
    }
    const tracked = b !== this.#overflow;
    const { perSecond, burst } = this.rule;
    const tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * perSecond);
    b.at = now;
    if (tokens >= 1) {
      b.tokens = tokens - 1;
      this.allowed++;
      return { allowed: true, remaining: Math.floor(b.tokens), resetSeconds: Math.ceil((burst - b.tokens) / perSecond), retryAfterSeconds: 0, tracked };
    }
    b.tokens = tokens;
    this.refused++;
    return {
      allowed: false,
      remaining: 0,
      resetSeconds: Math.ceil((burst - tokens) / perSecond),
      retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perSecond)),
      tracked,
    };
  }

  /** A request this bucket allowed was refused by the shared bucket (shared-edge.ts): count it so. */
  refusedElsewhere(): void {
    this.allowed--;
    this.refused++;
  }

  /** Drops the buckets that are full again by `now`. */
  sweep(now: number): void {
    const { perSecond, burst } = this.rule;
    for (const [key, b] of this.#buckets) if (b.tokens + ((now - b.at) / 1000) * perSecond >= burst) this.#buckets.delete(key);
  }
}
