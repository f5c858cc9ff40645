import type { ClientRules } from './client-rules.js';
import { randomBytes } from 'node:crypto';
import type { RequestPolicyOptions } from './request-policy.js';

/**
 * What the proxy accepts from a client and how long it waits for one, the
 * same for every engine. docs/security.md gives each default beside its
 * nginx, HAProxy and Envoy equivalent.
 */
export interface RequestLimits {
  /** Most header fields in a request (431 above). */
  readonly maxHeaders: number;
  /** Largest request body in bytes (413 above); 0: no limit. */
  readonly maxBodySize: number;
  /**
   * Bodies up to this many bytes are received in full before the request
   * takes an admission slot or a backend connection (and are sent with
   * Content-Length); larger ones stream.
   */
  readonly requestBuffer: number;
  /** Bytes all buffered request bodies together may hold; past it, bodies stream. */
  readonly requestBufferTotal: number;
  /** A request body that sends nothing for this long gets 408 and its connection closes. */
  readonly clientBodyTimeoutMs: number;
  /** A client that takes no response bytes for this long is cut (its backend connection is freed). */
  readonly clientSendTimeoutMs: number;
  /** Upgrade protocols tunnelled (lowercase); any other Upgrade is ignored. */
  readonly upgrades: readonly string[];
  /** This deployment's pseudonym in Via; a request that carries it is a loop (508). */
  readonly via: string;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = Object.freeze({
  maxHeaders: 100,
  maxBodySize: 0,
  requestBuffer: 65_536,
  requestBufferTotal: 64 * 1024 * 1024,
  clientBodyTimeoutMs: 30_000,
  clientSendTimeoutMs: 60_000,
  upgrades: Object.freeze(['websocket']),
  via: '',
});

/** A Via pseudonym for a balancer that was given none: unique to it. */
export function randomVia(): string {
  return `switchyard-${randomBytes(4).toString('hex')}`;
}

/** Limits completed with defaults; `via` made unique when missing. */
export function resolveLimits(partial: Partial<RequestLimits> | undefined): RequestLimits {
  const l = { ...DEFAULT_REQUEST_LIMITS, ...partial };
  return Object.freeze({ ...l, via: l.via || randomVia(), upgrades: Object.freeze(l.upgrades.map((u) => u.toLowerCase())) });
}

export function policyOptions(limits: RequestLimits, clients: ClientRules): RequestPolicyOptions {
  return Object.freeze({
    clients,
    maxHeaders: limits.maxHeaders,
    maxBodySize: limits.maxBodySize,
    via: limits.via,
    via11: `1.1 ${limits.via}`,
    via10: `1.0 ${limits.via}`,
    upgrades: new Set(limits.upgrades),
  });
}
