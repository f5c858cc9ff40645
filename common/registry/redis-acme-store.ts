import type { Redis } from 'ioredis';
import type { Lifecycle } from '../lifecycle.js';
import { closeClient, startQuietClient, startSubscriber, type RedisTarget } from './redis-connection.js';

/*
 * What automatic certificates (ACME, RFC 8555) keep in the registry's Redis,
 * under its prefix, so every balancer serves them (docs/edge.md):
 *
 * - `<prefix>acme:account`: the ACME account (its key sealed, its URL);
 * - `<prefix>acme:cert:<set>`: one certificate set (a hash: chain, sealed key,
 *   names, notAfter), `<set>` naming its domains;
 * - `<prefix>acme:challenge:<token>`: an HTTP-01 key authorization, expiring;
 * - `<prefix>acme:lease`: who renews now (one balancer at a time);
 * - channel `<prefix>acme`: `cert <set>` and `challenge <token>` announcements.
 *
 * Private keys are sealed by the caller (secret-box.ts) with a key that is not in Redis.
 */

/** A stored certificate: the PEM chain, the sealed key, and what the chain says of itself. */
export interface StoredCertificate {
  readonly cert: string;
  readonly sealedKey: string;
  readonly notAfter: number;
}

export type AcmeChange = { readonly kind: 'cert'; readonly set: string } | { readonly kind: 'challenge'; readonly token: string };

export interface AcmeStoreOptions {
  readonly target: RedisTarget;
  readonly prefix: string;
  readonly onChange: (c: AcmeChange) => void;
}

/** An announcement on the channel; undefined when malformed. */
export function parseAcmeChange(message: string): AcmeChange | undefined {
  const m = /^(cert|challenge) ([A-Za-z0-9._,*-]{1,512})$/.exec(message);
  if (m === null) return undefined;
  return m[1] === 'cert' ? { kind: 'cert', set: m[2]! } : { kind: 'challenge', token: m[2]! };
}

/** Releases the lease only if it is still ours. */
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type AcmeClient = Redis & { swyAcmeRelease(lease: string, owner: string): Promise<number> };

export class RedisAcmeStore implements Lifecycle {
  readonly #opts: AcmeStoreOptions;
  readonly #channel: string;
  #client: AcmeClient | undefined;
  #sub: Redis | undefined;

  constructor(opts: AcmeStoreOptions) {
    this.#opts = opts;
    this.#channel = `${opts.prefix}acme`;
  }

  async start(): Promise<void> {
    const c = (await startQuietClient(this.#opts.target, 'switchyard-acme')) as AcmeClient;
    c.defineCommand('swyAcmeRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    this.#client = c;
    this.#sub = await startSubscriber(this.#opts.target, 'switchyard-acme-sub', this.#channel, (message) => {
      const change = parseAcmeChange(message);
      if (change !== undefined) this.#opts.onChange(change);
    });
  }

  async close(): Promise<void> {
    await closeClient(this.#sub);
    await closeClient(this.#client);
  }

  async certificate(set: string): Promise<StoredCertificate | undefined> {
    const h = await this.#ready().hgetall(this.#key(`cert:${set}`));
    if (h.cert === undefined || h.key === undefined || h.notAfter === undefined) return undefined;
    return { cert: h.cert, sealedKey: h.key, notAfter: Number(h.notAfter) };
  }

  async putCertificate(set: string, c: StoredCertificate): Promise<void> {
    const r = this.#ready();
    await r.hset(this.#key(`cert:${set}`), 'cert', c.cert, 'key', c.sealedKey, 'notAfter', String(c.notAfter));
    await r.publish(this.#channel, `cert ${set}`);
  }

  async account(): Promise<{ sealedKey: string; url: string } | undefined> {
    const h = await this.#ready().hgetall(this.#key('account'));
    return h.key === undefined ? undefined : { sealedKey: h.key, url: h.url ?? '' };
  }

  async putAccount(sealedKey: string, url: string): Promise<void> {
    await this.#ready().hset(this.#key('account'), 'key', sealedKey, 'url', url);
  }

  /** An HTTP-01 key authorization every balancer answers for `ttlMs`. */
  async putChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void> {
    const r = this.#ready();
    await r.set(this.#key(`challenge:${token}`), keyAuthorization, 'PX', ttlMs);
    await r.publish(this.#channel, `challenge ${token}`);
  }

  async challenge(token: string): Promise<string | undefined> {
    return (await this.#ready().get(this.#key(`challenge:${token}`))) ?? undefined;
  }

  async removeChallenge(token: string): Promise<void> {
    await this.#ready().del(this.#key(`challenge:${token}`));
  }

  /** Takes the renewer's lease for `ttlMs` when nobody holds it. */
  async takeLease(owner: string, ttlMs: number): Promise<boolean> {
    return (await this.#ready().set(this.#key('lease'), owner, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async releaseLease(owner: string): Promise<void> {
    await this.#ready().swyAcmeRelease(this.#key('lease'), owner);
  }

  #key(rest: string): string {
    return `${this.#opts.prefix}acme:${rest}`;
  }

  #ready(): AcmeClient {
    const c = this.#client;
    if (c === undefined || c.status !== 'ready') throw new Error('the ACME store is not connected to Redis');
    return c;
  }
}
