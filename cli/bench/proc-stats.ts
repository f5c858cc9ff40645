import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat the bench uses; times in clock ticks. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly utime: number;
  readonly stime: number;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses, so fields are counted from the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field n is rest[n - 3]
  return { pid, ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
}

/** VmRSS of /proc/<pid>/status in bytes (0 for a kernel thread or a zombie). */
export function parseVmRss(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The pid and all its living descendants (a cluster primary and its workers, nginx master and workers). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid);
    if (list) list.push(s.pid);
    else children.set(s.ppid, [s.pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    if (!readStat(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** User + system CPU time of the processes, in clock ticks (all threads of each process included). */
export function cpuTicks(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (s) sum += s.utime + s.stime;
  }
  return sum;
}

/** Resident memory of the processes, summed, in bytes. */
export function rssBytes(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += parseVmRss(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      // gone
    }
  }
  return sum;
}

/** Open file descriptors of one process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second (getconf CLK_TCK; 100 on Linux almost everywhere). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU ticks per pid of a process tree at one moment. */
export function treeTicks(root: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of processTree(root)) {
    const s = readStat(pid);
    if (s) out.set(pid, s.utime + s.stime);
  }
  return out;
}

/** CPU ticks spent between two samples of a tree; a process that appeared in between counts from its start. */
export function cpuDelta(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let sum = 0;
  for (const [pid, t] of after) sum += Math.max(0, t - (before.get(pid) ?? 0));
  return sum;
}
