import { Agent as HttpsAgent } from 'node:https';
import * as acme from 'acme-client';
import type { Lifecycle } from '../../../common/lifecycle.js';
import type { Logger } from '../../../common/logger.js';
import type { AcmeChange, StoredCertificate } from '../../../common/registry/redis-acme-store.js';
import { loadCertificate, type ServedCertificate } from '../certificate-set.js';
import { tlsPolicy } from '../tls-policy.js';
import type { SecretBox } from './secret-box.js';

/** What the manager needs of its store (common/registry/redis-acme-store.ts implements it). */
export interface AcmeStore extends Lifecycle {
  certificate(set: string): Promise<StoredCertificate | undefined>;
  putCertificate(set: string, c: StoredCertificate): Promise<void>;
  account(): Promise<{ sealedKey: string; url: string } | undefined>;
  putAccount(sealedKey: string, url: string): Promise<void>;
  putChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void>;
  challenge(token: string): Promise<string | undefined>;
  removeChallenge(token: string): Promise<void>;
  takeLease(owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(owner: string): Promise<void>;
}

export interface AcmeOptions {
  /** The names of the one certificate it keeps (the first is its subject). */
  readonly domains: readonly string[];
  readonly directoryUrl: string;
  readonly email: string | undefined;
  /** CAs that sign the ACME server's own HTTPS certificate, when not the system's (a private CA, pebble). */
  readonly caBundle: Buffer | undefined;
  /** Renew when the certificate has less than this left. */
  readonly renewBeforeMs: number;
  /** How often the certificate's age is looked at. */
  readonly checkIntervalMs: number;
  /** This balancer, as the lease names it. */
  readonly instanceId: string;
  readonly box: SecretBox;
  readonly logger: Logger;
}

/** Where the certificates go: the HTTPS listener. */
export interface CertificateSink {
  useCertificates(certs: readonly ServedCertificate[]): void;
}

/** An HTTP-01 challenge lives this long in Redis (a CA validates within seconds). */
const CHALLENGE_TTL_MS = 10 * 60_000;
/** Time for every balancer to hear of a challenge before the CA is told to check it. */
const CHALLENGE_SPREAD_MS = 1000;
/** The renewer's lease: longer than an issuance takes, so a second renewer never starts beside a slow one. */
const LEASE_MS = 5 * 60_000;
const BACKOFF_MIN_MS = 30_000;
const BACKOFF_MAX_MS = 3_600_000;

/**
 * Automatic certificates (ACME, RFC 8555; docs/edge.md), with acme-client.
 * Every balancer runs one: it serves the certificate kept in the registry's
 * Redis (loaded at start and whenever one is announced) and answers HTTP-01
 * challenges from there, so the CA may reach any balancer. Every
 * `checkIntervalMs` each looks at the certificate; when it is missing or has
 * less than `renewBeforeMs` left, the one that takes the lease orders a new
 * one (an ECDSA P-256 key; the account's key and the certificate's key sealed
 * before they go to Redis), stores it and announces it. A failed order is
 * tried again after a back-off, 30 s doubling to an hour.
 */
export class AcmeManager implements Lifecycle {
  readonly #store: AcmeStore;
  readonly #sink: CertificateSink;
  readonly #opts: AcmeOptions;
  readonly #set: string;
  readonly #challenges = new Map<string, { value: string; until: number }>();
  #timer: NodeJS.Timeout | undefined;
  #notAfter = 0;
  #failures = 0;
  #nextTryAt = 0;
  #busy = false;
  #closed = false;
  /** Certificates this balancer ordered, and orders that failed. */
  issued = 0;
  failed = 0;

  constructor(store: AcmeStore, sink: CertificateSink, opts: AcmeOptions) {
    this.#store = store;
    this.#sink = sink;
    this.#opts = opts;
    this.#set = [...opts.domains].map((d) => d.toLowerCase()).join(',');
  }

  /** The certificate's end (ms since the epoch), 0 while there is none. */
  get notAfter(): number {
    return this.#notAfter;
  }

  async start(): Promise<void> {
    await this.#store.start();
    await this.#load().catch((err: unknown) => this.#opts.logger.warn({ error: (err as Error).message }, 'ACME certificate not loaded from Redis yet'));
    const tick = (): void => {
      if (this.#closed) return;
      void this.check().finally(() => {
        if (this.#closed) return;
        this.#timer = setTimeout(tick, this.#opts.checkIntervalMs);
        this.#timer.unref();
      });
    };
    this.#timer = setTimeout(tick, 0);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#store.close();
  }

  /** The key authorization for an HTTP-01 `token`, when this deployment asked for it. */
  answer(token: string, now = Date.now()): string | undefined {
    const c = this.#challenges.get(token);
    if (c === undefined) return undefined;
    if (c.until > now) return c.value;
    this.#challenges.delete(token);
    return undefined;
  }

  /** An announcement from the store's channel. */
  changed(c: AcmeChange): void {
    if (c.kind === 'cert') {
      if (c.set === this.#set)
        void this.#load().catch((err: unknown) => this.#opts.logger.error({ error: (err as Error).message }, 'ACME certificate announced but not loaded'));
      return;
    }
    void this.#store.challenge(c.token).then(
      (value) => {
        if (value !== undefined) this.#challenges.set(c.token, { value, until: Date.now() + CHALLENGE_TTL_MS });
      },
      () => undefined,
    );
  }

  /** One look at the certificate: orders a new one when due, if this balancer takes the lease. */
  async check(now = Date.now()): Promise<void> {
    if (this.#busy || this.#closed) return;
    if (this.#notAfter - now > this.#opts.renewBeforeMs || now < this.#nextTryAt) return;
    this.#busy = true;
    const owner = this.#opts.instanceId;
    try {
      // Another balancer may have stored a fresh one meanwhile.
      await this.#load();
      if (this.#notAfter - Date.now() > this.#opts.renewBeforeMs) return;
      if (!(await this.#store.takeLease(owner, LEASE_MS))) return;
      try {
        await this.#order();
        this.#failures = 0;
        this.#nextTryAt = 0;
      } finally {
        await this.#store.releaseLease(owner).catch(() => undefined);
      }
    } catch (err) {
      this.failed++;
      const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.#failures++);
      this.#nextTryAt = Date.now() + wait;
      this.#opts.logger.error({ error: (err as Error).message, domains: this.#opts.domains, retryInMs: wait }, 'ACME certificate order failed');
    } finally {
      this.#busy = false;
    }
  }

  async #order(): Promise<void> {
    const o = this.#opts;
    if (o.caBundle !== undefined) acme.axios.defaults.httpsAgent = new HttpsAgent({ ca: o.caBundle });
    const client = await this.#client();
    const [key, csr] = await acme.crypto.createCsr({ commonName: o.domains[0]!, altNames: [...o.domains] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    o.logger.info({ domains: o.domains, directory: o.directoryUrl }, 'ordering an ACME certificate');
    const cert = await client.auto({
      csr,
      ...(o.email === undefined ? {} : { email: o.email }),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // The CA checks through whichever balancer it reaches; it is told to only once every balancer could know.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        this.#challenges.set(challenge.token, { value: keyAuthorization, until: Date.now() + CHALLENGE_TTL_MS });
        await this.#store.putChallenge(challenge.token, keyAuthorization, CHALLENGE_TTL_MS);
        await new Promise((r) => setTimeout(r, CHALLENGE_SPREAD_MS));
      },
      challengeRemoveFn: async (_authz, challenge) => {
        this.#challenges.delete(challenge.token);
        await this.#store.removeChallenge(challenge.token);
      },
    });
    const served = this.#serve(cert, key.toString());
    await this.#store.putCertificate(this.#set, { cert, sealedKey: o.box.seal(key.toString()), notAfter: served.notAfter.getTime() });
    this.issued++;
    o.logger.info({ domains: o.domains, notAfter: served.notAfter.toISOString() }, 'ACME certificate issued and stored');
  }

  /** The ACME client with this deployment's account (made and stored the first time). */
  async #client(): Promise<acme.Client> {
    const o = this.#opts;
    const stored = await this.#store.account();
    if (stored !== undefined) {
      return new acme.Client({ directoryUrl: o.directoryUrl, accountKey: o.box.open(stored.sealedKey), ...(stored.url ? { accountUrl: stored.url } : {}) });
    }
    const accountKey = await acme.crypto.createPrivateEcdsaKey('P-256');
    const client = new acme.Client({ directoryUrl: o.directoryUrl, accountKey });
    await client.createAccount({ termsOfServiceAgreed: true, ...(o.email === undefined ? {} : { contact: [`mailto:${o.email}`] }) });
    await this.#store.putAccount(o.box.seal(accountKey.toString()), client.getAccountUrl());
    return client;
  }

  /** Loads the stored certificate into the listener. */
  async #load(): Promise<void> {
    const stored = await this.#store.certificate(this.#set);
    if (stored === undefined || stored.notAfter <= this.#notAfter) return;
    this.#serve(stored.cert, this.#opts.box.open(stored.sealedKey));
  }

  #serve(cert: string, key: string): ServedCertificate {
    const files: Record<string, Buffer> = { 'acme.crt': Buffer.from(cert), 'acme.key': Buffer.from(key) };
    const served = loadCertificate('acme.crt:acme.key', (p) => files[p]!, tlsPolicy());
    this.#sink.useCertificates([{ ...served, source: `acme:${this.#set}` }]);
    this.#notAfter = served.notAfter.getTime();
    return served;
  }
}
