import { isIP } from 'node:net';

/*
 * Which Host values name the admin listener. A browser sends the name it
 * resolved, so refusing every other name stops DNS rebinding: a page on
 * attacker.example whose name later resolves to 127.0.0.1 still says
 * `Host: attacker.example`.
 */

/** The name part of a Host header value, lower case, without port, brackets or trailing dot; undefined when malformed. */
export function hostName(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  let name: string;
  let rest: string;
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end === -1) return undefined;
    name = v.slice(1, end);
    rest = v.slice(end + 1);
    if (isIP(name) !== 6) return undefined;
  } else {
    const colon = v.indexOf(':');
    name = colon === -1 ? v : v.slice(0, colon);
    rest = colon === -1 ? '' : v.slice(colon);
    if (!/^[a-z0-9_.-]+$/.test(name)) return undefined;
  }
  if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name === '' ? undefined : name;
}

/** An address or name as written in an option: lower case, no brackets, IPv4-mapped IPv6 as IPv4. */
export function normalizeAddress(address: string): string {
  let a = address.trim().toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  if (a.endsWith('.')) a = a.slice(0, -1);
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return a;
}

/** localhost, any 127.x.y.z and ::1 (in any of its spellings). */
export function isLoopbackName(name: string): boolean {
  const n = normalizeAddress(name);
  if (n === 'localhost') return true;
  if (isIP(n) === 4) return n.startsWith('127.');
  if (isIP(n) === 6) return expandIPv6(n) === expandIPv6('::1');
  return false;
}

/** True for the wildcard addresses that bind every interface. */
export function isWildcardAddress(address: string): boolean {
  const n = normalizeAddress(address);
  return n === '0.0.0.0' || (isIP(n) === 6 && /^[0:]+$/.test(n));
}

export interface HostAllowlistOptions {
  /** The address the admin API binds to (--admin-host). */
  readonly bindHost?: string;
  /** More names clients may use (--admin-allowed-hosts). */
  readonly allowedHosts?: readonly string[];
}

/**
 * A check of the Host name (see hostName) against: loopback names, the bind
 * address when it is a specific one, the configured names, and an IP literal
 * equal to the local address the connection arrived on (a client that typed
 * the address itself, which no rebinding page can do).
 */
export function hostAllowlist(opts: HostAllowlistOptions): (name: string, localAddress: string | undefined) => boolean {
  const names = new Set<string>((opts.allowedHosts ?? []).map(canonical));
  if (opts.bindHost && !isWildcardAddress(opts.bindHost)) names.add(canonical(opts.bindHost));
  return (name, localAddress) => {
    const n = canonical(name);
    if (isLoopbackName(n) || names.has(n)) return true;
    return isIP(n) !== 0 && localAddress !== undefined && n === canonical(localAddress);
  };
}

/** normalizeAddress, with IPv6 written out in full so every spelling compares equal. */
function canonical(address: string): string {
  const n = normalizeAddress(address);
  return isIP(n) === 6 ? expandIPv6(n) : n;
}

/** Eight groups of four hex digits; a trailing dotted IPv4 part becomes two groups. */
function expandIPv6(address: string): string {
  let a = address.split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    a = a.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((g) => g.padStart(4, '0')).join(':');
}
