import { readdirSync, readlinkSync } from 'node:fs';
import { readTcpTableSync, socketInodeOfLink, TCP_LISTEN } from '../../common/proc-net-tcp.js';

/** Socket inodes of a process's open fds. */
export function socketInodes(pid: number): Set<number> {
  const out = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = socketInodeOfLink(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (inode !== undefined) out.add(inode);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Sockets the processes hold that connect to one of `remotePorts` (any state but LISTEN), e.g. a balancer's upstream connections. */
export function socketsTo(pids: readonly number[], remotePorts: ReadonlySet<number>): number {
  const inodes = new Set<number>();
  for (const pid of pids) {
    try {
      for (const i of socketInodes(pid)) inodes.add(i);
    } catch {
      // gone
    }
  }
  let n = 0;
  for (const e of readTcpTableSync() ?? []) if (e.state !== TCP_LISTEN && inodes.has(e.inode) && remotePorts.has(e.remotePort)) n++;
  return n;
}
