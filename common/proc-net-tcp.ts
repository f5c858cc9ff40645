import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/*
 * The kernel's table of TCP sockets (Linux /proc/net/tcp and tcp6): who
 * listens on a port, which sockets a process holds. Parsing is pure; the two
 * readers return undefined where there is no /proc/net to read.
 */

/** One row of /proc/net/tcp or tcp6. */
export interface TcpEntry {
  /** Dotted IPv4 (IPv4-mapped IPv6 included) or full IPv6 ("0:0:0:0:0:0:0:1"). */
  readonly localAddress: string;
  readonly localPort: number;
  readonly remotePort: number;
  /** Kernel state code: 1 ESTABLISHED, 6 TIME_WAIT, 8 CLOSE_WAIT, 10 LISTEN, ... */
  readonly state: number;
  readonly inode: number;
}

export const TCP_LISTEN = 10;

const FILES = ['/proc/net/tcp', '/proc/net/tcp6'] as const;

/** One 32-bit word of a /proc/net address: hex in the kernel's byte order (little-endian here), as 4 bytes in network order. */
function wordBytes(hex: string): number[] {
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

function addressOf(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  if (hex.length === 8) return wordBytes(hex).join('.');
  if (hex.length !== 32) return undefined;
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)));
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

/** The rows of /proc/net/tcp(6) text, `sl local_address rem_address st ... inode`; the header and malformed rows are skipped. */
export function parseProcNetTcp(text: string): TcpEntry[] {
  const out: TcpEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addrHex = '', portHex = ''] = f[1]!.split(':');
    const localAddress = addressOf(addrHex);
    const localPort = parseInt(portHex, 16);
    const remotePort = parseInt(f[2]!.slice(f[2]!.indexOf(':') + 1), 16);
    const state = parseInt(f[3]!, 16);
    const inode = Number(f[9]);
    if (localAddress === undefined || ![localPort, remotePort, state, inode].every(Number.isInteger)) continue;
    out.push({ localAddress, localPort, remotePort, state, inode });
  }
  return out;
}

/** Every TCP socket on this host (both tables), or undefined where neither can be read (not Linux). */
export async function readTcpTable(): Promise<TcpEntry[] | undefined> {
  const texts = await Promise.all(FILES.map((p) => readFile(p, 'utf8').catch(() => undefined)));
  return join(texts);
}

/** readTcpTable, blocking: for measuring tools, not for a server's event loop. */
export function readTcpTableSync(): TcpEntry[] | undefined {
  return join(
    FILES.map((p) => {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    }),
  );
}

function join(texts: readonly (string | undefined)[]): TcpEntry[] | undefined {
  if (texts.every((t) => t === undefined)) return undefined;
  return texts.flatMap((t) => (t === undefined ? [] : parseProcNetTcp(t)));
}

/** The socket inode a /proc/<pid>/fd link names ("socket:[12345]"), or undefined for any other file. */
export function socketInodeOfLink(link: string): number | undefined {
  const m = /^socket:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : undefined;
}
