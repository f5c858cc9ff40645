import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** One line of /proc/net/tcp or tcp6. */
export interface TcpEntry {
  readonly localPort: number;
  readonly remotePort: number;
  /** Kernel state code: 1 ESTABLISHED, 6 TIME_WAIT, 8 CLOSE_WAIT, 10 LISTEN, ... */
  readonly state: number;
  readonly inode: number;
}

/** Parses /proc/net/tcp(6): `sl local_address rem_address st ... inode`. */
export function parseProcNetTcp(text: string): TcpEntry[] {
  const out: TcpEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const port = (addr: string): number => Number.parseInt(addr.slice(addr.indexOf(':') + 1), 16);
    out.push({ localPort: port(f[1]!), remotePort: port(f[2]!), state: Number.parseInt(f[3]!, 16), inode: Number(f[9]) });
  }
  return out;
}

/** Socket inodes of a process's open fds. */
export function socketInodes(pid: number): Set<number> {
  const out = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(Number(m[1]));
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
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const e of parseProcNetTcp(text)) if (e.state !== 10 && inodes.has(e.inode) && remotePorts.has(e.remotePort)) n++;
  }
  return n;
}
