import { createHash, randomBytes } from 'node:crypto';

/** Defaults of the dashboard sessions (at most this many, each for this long). */
export const SESSION_DEFAULTS = { max: 256, ttlMs: 12 * 3_600_000 } as const;

export interface SessionStoreOptions {
  /** Most sessions held; a new one past it ends the oldest. */
  readonly max: number;
  /** Lifetime of a session from its login, in milliseconds. */
  readonly ttlMs: number;
  readonly now?: () => number;
}

/**
 * Dashboard login sessions, in memory: a random id (32 bytes, base64url) per
 * login, kept only as its SHA-256, bounded in number and lifetime. The id is
 * what the cookie holds; the admin token itself never leaves the login request.
 */
export class SessionStore {
  /** Hash of the id -> expiry, in creation order (a Map keeps insertion order). */
  readonly #sessions = new Map<string, number>();
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(opts: SessionStoreOptions) {
    this.#max = opts.max;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    this.#sweep();
    return this.#sessions.size;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Starts a session and returns its id. */
  create(): string {
    this.#sweep();
    while (this.#sessions.size >= this.#max) this.#sessions.delete(this.#sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(digest(id), this.#now() + this.#ttlMs);
    return id;
  }

  valid(id: string | undefined): boolean {
    if (!id) return false;
    const key = digest(id);
    const expires = this.#sessions.get(key);
    if (expires === undefined) return false;
    if (expires <= this.#now()) {
      this.#sessions.delete(key);
      return false;
    }
    return true;
  }

  revoke(id: string | undefined): void {
    if (id) this.#sessions.delete(digest(id));
  }

  clear(): void {
    this.#sessions.clear();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, expires] of this.#sessions) {
      if (expires > now) break; // creation order with one lifetime is expiry order
      this.#sessions.delete(key);
    }
  }
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
