import { BlockList, isIP } from 'node:net';

/**
 * A list of addresses and networks (`203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`).
 * `parse` throws on an entry it cannot read, saying which.
 */
export class AddressList {
  readonly entries: readonly string[];
  readonly #list = new BlockList();

  private constructor(entries: readonly string[]) {
    this.entries = entries;
  }

  static parse(entries: readonly string[]): AddressList {
    const list = new AddressList(Object.freeze([...entries]));
    for (const e of entries) list.#add(e);
    return list;
  }

  #add(entry: string): void {
    const slash = entry.indexOf('/');
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw new Error(`'${entry}' is not an IPv4 or IPv6 address or network`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash === -1) {
      this.#list.addAddress(address, type);
      return;
    }
    const text = entry.slice(slash + 1);
    const prefix = Number(text);
    if (!/^\d{1,3}$/.test(text) || prefix > (family === 4 ? 32 : 128)) throw new Error(`'${entry}' has no valid prefix length`);
    this.#list.addSubnet(address, prefix, type);
  }

  /** True when `ip` is in the list; false for anything that is not an address. */
  has(ip: string): boolean {
    const family = isIP(ip);
    return family !== 0 && this.#list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Who may say who the client is, and which clients are served. */
export interface ClientRules {
  /** Peers whose X-Forwarded-* (and Forwarded, X-Real-IP) are kept: `all` (--trust-forwarded), a list, or none. */
  readonly trusted: AddressList | 'all' | undefined;
  /** When set, only clients in it are served. */
  readonly allow: AddressList | undefined;
  /** Clients in it are refused (before `allow`). */
  readonly deny: AddressList | undefined;
}

export const NO_CLIENT_RULES: ClientRules = Object.freeze({ trusted: undefined, allow: undefined, deny: undefined });

export function clientRules(s: {
  readonly trustForwarded: boolean;
  readonly trustedProxies?: readonly string[];
  readonly allowClients?: readonly string[];
  readonly denyClients?: readonly string[];
}): ClientRules {
  const list = (entries: readonly string[] | undefined): AddressList | undefined => (entries?.length ? AddressList.parse(entries) : undefined);
  return Object.freeze({
    trusted: s.trustForwarded ? 'all' : list(s.trustedProxies),
    allow: list(s.allowClients),
    deny: list(s.denyClients),
  });
}

export function peerTrusted(rules: ClientRules, peer: string): boolean {
  const t = rules.trusted;
  return t !== undefined && (t === 'all' || t.has(peer));
}

/**
 * The client behind a trusted peer: walking X-Forwarded-For from the right (each
 * proxy appends the address it was reached from), the first address that is not a
 * trusted proxy. Entries further left were written by that client and prove
 * nothing. With every peer trusted (`all`), the leftmost entry.
 */
export function forwardedClient(rules: ClientRules, forwardedFor: string, peer: string): string {
  const parts = forwardedFor.split(',');
  if (rules.trusted === 'all') return parts[0]!.trim() || peer;
  for (let i = parts.length - 1; i >= 0; i--) {
    const a = parts[i]!.trim();
    if (a === '') continue;
    if (!peerTrusted(rules, a)) return a;
  }
  return parts[0]!.trim() || peer;
}

/** True when the rules refuse `client` (deny first; then, with an allow list, anything not in it). */
export function clientRefused(rules: ClientRules, client: string): boolean {
  if (rules.deny !== undefined && rules.deny.has(client)) return true;
  return rules.allow !== undefined && !rules.allow.has(client);
}
