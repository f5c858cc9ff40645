import { readlink } from 'node:fs/promises';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { constants } from 'node:os';
import { socketInodeOfLink, TCP_LISTEN, type TcpEntry } from '../common/proc-net-tcp.js';

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '0:0:0:0:0:0:0:0' || address === '::';
}

function family(address: string): 'ipv4' | 'ipv6' | undefined {
  return isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
}

function sameAddress(a: string, b: string): boolean {
  const fa = family(a);
  if (fa === undefined || fa !== family(b)) return false;
  const list = new BlockList();
  list.addAddress(a, fa);
  return list.check(b, fa);
}

/**
 * The listening sockets that hold `address`:`port` for a new one: in LISTEN
 * on the same port, at the same address or where either side is a wildcard
 * (which takes every address of the host). Conservative on purpose: a
 * wildcard of one family is taken to cover the other (a dual-stack "::" does).
 */
export function holdersOf(table: readonly TcpEntry[], address: string, port: number): TcpEntry[] {
  return table.filter(
    (e) => e.state === TCP_LISTEN && e.localPort === port && (isWildcard(e.localAddress) || isWildcard(address) || sameAddress(e.localAddress, address)),
  );
}

/** The inodes of the sockets behind these file descriptors of this process (descriptors that are not sockets are left out). */
export async function socketInodes(fds: readonly number[]): Promise<Set<number>> {
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return new Set(links.map(socketInodeOfLink).filter((i) => i !== undefined));
}

/** The error listen() gives for a port in use, with the same code, syscall and message shape. */
export function addressInUse(address: string, port: number): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException & { address?: string; port?: number } = new Error(`listen EADDRINUSE: address already in use ${address}:${port}`);
  err.code = 'EADDRINUSE';
  err.errno = -constants.errno.EADDRINUSE;
  err.syscall = 'listen';
  err.address = address;
  err.port = port;
  return err;
}
