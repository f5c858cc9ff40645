import { isIP } from 'node:net';

/*
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2):
 * a proxy in front that forwards TCP (HAProxy, an AWS NLB, Swarm or Kubernetes
 * ingress set up for it) says, before any byte of the client's own, which
 * address the connection came from. Parsing only; who may send one is
 * proxy-protocol-gate.ts's business.
 */

/** What a connection's first bytes say. */
export type ProxyHeader =
  /** Not all of the header is there yet. */
  | { readonly kind: 'more' }
  | { readonly kind: 'invalid'; readonly reason: string }
  /**
   * A whole header of `length` bytes. `source` is the client, or undefined for
   * v2's LOCAL command and v1's UNKNOWN (the proxy's own connection, a health
   * check: the peer's own address stands).
   */
  | { readonly kind: 'header'; readonly length: number; readonly source: { readonly address: string; readonly port: number } | undefined };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The longest v1 line (TCP6 with the longest addresses), CRLF included. */
const V1_MAX = 107;
/** Past the 16-byte v2 preamble: addresses and TLVs. Larger is refused (no TLV we use needs it). */
export const V2_MAX_BODY = 1024;

export function parseProxyHeader(b: Buffer): ProxyHeader {
  if (b.length === 0) return { kind: 'more' };
  if (b[0] === 0x0d) return parseV2(b);
  if (b[0] === 0x50 /* P */) return parseV1(b);
  return { kind: 'invalid', reason: 'no PROXY protocol header' };
}

function parseV1(b: Buffer): ProxyHeader {
  const n = Math.min(b.length, V1_PREFIX.length);
  if (!b.subarray(0, n).equals(V1_PREFIX.subarray(0, n))) return { kind: 'invalid', reason: 'no PROXY protocol header' };
  const end = b.indexOf('\r\n', 0, 'latin1');
  if (end === -1) return b.length >= V1_MAX ? { kind: 'invalid', reason: 'a v1 header longer than 107 bytes' } : { kind: 'more' };
  if (end + 2 > V1_MAX) return { kind: 'invalid', reason: 'a v1 header longer than 107 bytes' };
  const parts = b.toString('latin1', 0, end).split(' ');
  const length = end + 2;
  if (parts[1] === 'UNKNOWN') return { kind: 'header', length, source: undefined };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return { kind: 'invalid', reason: 'a malformed v1 header' };
  const [, family, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const want = family === 'TCP4' ? 4 : 6;
  if (isIP(src) !== want || isIP(dst) !== want) return { kind: 'invalid', reason: `a v1 header whose addresses are not ${family}` };
  if (!port(sport) || !port(dport)) return { kind: 'invalid', reason: 'a v1 header with a bad port' };
  return { kind: 'header', length, source: { address: src, port: Number(sport) } };
}

function port(s: string): boolean {
  return /^(0|[1-9][0-9]{0,4})$/.test(s) && Number(s) <= 65535;
}

function parseV2(b: Buffer): ProxyHeader {
  const n = Math.min(b.length, V2_SIGNATURE.length);
  if (!b.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return { kind: 'invalid', reason: 'no PROXY protocol header' };
  if (b.length < 16) return { kind: 'more' };
  const verCmd = b[12]!;
  if (verCmd >> 4 !== 2) return { kind: 'invalid', reason: 'a v2 header of another version' };
  const command = verCmd & 0x0f;
  if (command > 1) return { kind: 'invalid', reason: 'a v2 header with an unknown command' };
  const famProto = b[13]!;
  const bodyLength = b.readUInt16BE(14);
  if (bodyLength > V2_MAX_BODY) return { kind: 'invalid', reason: `a v2 header longer than ${V2_MAX_BODY} bytes` };
  if (b.length < 16 + bodyLength) return { kind: 'more' };
  const length = 16 + bodyLength;
  // LOCAL: the proxy speaking for itself (a health check); the peer's address stands.
  if (command === 0) return { kind: 'header', length, source: undefined };
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  // UNSPEC, or a transport other than TCP over a stream: no address to take.
  if (family === 0 || transport !== 1) return { kind: 'header', length, source: undefined };
  if (family === 1) {
    if (bodyLength < 12) return { kind: 'invalid', reason: 'a v2 IPv4 header too short' };
    const a = b.subarray(16, 20);
    return { kind: 'header', length, source: { address: `${a[0]}.${a[1]}.${a[2]}.${a[3]}`, port: b.readUInt16BE(24) } };
  }
  if (family === 2) {
    if (bodyLength < 36) return { kind: 'invalid', reason: 'a v2 IPv6 header too short' };
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(16 + 2 * i).toString(16));
    return { kind: 'header', length, source: { address: compactIPv6(groups), port: b.readUInt16BE(48) } };
  }
  // AF_UNIX: no IP to take.
  return { kind: 'header', length, source: undefined };
}

/** RFC 5952 text of eight hex groups (the longest run of two or more zero groups becomes ::). */
function compactIPv6(groups: readonly string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best === -1) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
