import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { processTree } from './proc-stats.js';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The last lines the process wrote, for error messages. */
  readonly tail: string[];
  exited: boolean;
}

const TAIL_LINES = 30;

/**
 * Every process the bench starts, so that all of them (and their own
 * children: nginx workers, cluster workers) are stopped at the end, on
 * failure, on Ctrl+C, and as a last resort when the bench process exits.
 */
export class ChildSet {
  readonly #children: Child[] = [];
  readonly #onExit = (): void => this.killAllNow();

  constructor() {
    process.on('exit', this.#onExit);
  }

  spawn(name: string, command: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Child {
    const proc = spawn(command, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const child: Child = { name, proc, pid: proc.pid ?? -1, tail: [], exited: false };
    const keep = (d: Buffer): void => {
      for (const line of d.toString().split('\n')) if (line.trim()) child.tail.push(line);
      if (child.tail.length > TAIL_LINES) child.tail.splice(0, child.tail.length - TAIL_LINES);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    proc.on('error', (err) => {
      child.tail.push(`spawn error: ${err.message}`);
      child.exited = true;
    });
    proc.on('exit', () => (child.exited = true));
    this.#children.push(child);
    return child;
  }

  /** Resolves when a line matching `pattern` appears in the child's output; rejects if it exits first or time runs out. */
  waitForOutput(child: Child, pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => child.tail.some((l) => pattern.test(l));
      if (check()) return resolve();
      const onData = (): void => {
        if (check()) done();
      };
      const onExit = (): void => done(new Error(`${child.name} exited before it was ready: ${child.tail.slice(-5).join(' | ')}`));
      const timer = setTimeout(() => done(new Error(`${child.name} not ready within ${timeoutMs} ms: ${child.tail.slice(-5).join(' | ')}`)), timeoutMs);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        child.proc.stdout!.off('data', onData);
        child.proc.stderr!.off('data', onData);
        child.proc.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      child.proc.stdout!.on('data', onData);
      child.proc.stderr!.on('data', onData);
      child.proc.once('exit', onExit);
    });
  }

  /**
   * Resolves once a balancer child may be measured: its admin API at
   * `adminUrl` answers `/readyz` 200 with at least `minRoutable` backends past
   * their first health checks. A first 200 through the proxy is not enough:
   * it can come while only one of two backends is routable, and the run would
   * then begin on one backend. Rejects if the child exits first or time runs out.
   */
  async waitReady(child: Child, adminUrl: string, minRoutable: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      if (child.exited) throw new Error(`${child.name} exited before it was ready: ${child.tail.slice(-5).join(' | ')}`);
      const r = await readyz(`${adminUrl}/readyz`);
      if (r && r.status === 200 && r.routableBackends >= minRoutable) return;
      if (r) last = `status ${r.status}, ${r.routableBackends} routable`;
      if (Date.now() > deadline) throw new Error(`${child.name} not ready within ${timeoutMs} ms (${adminUrl}/readyz: ${last}, want ${minRoutable} routable): ${child.tail.slice(-5).join(' | ')}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** SIGTERM to each child and its descendants, SIGKILL after `graceMs` to whatever is left. */
  async stop(child: Child, graceMs = 3000): Promise<void> {
    const tree = child.exited ? [] : processTree(child.pid);
    if (tree.length === 0) return;
    for (const pid of tree) signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && tree.some(alive)) await new Promise((r) => setTimeout(r, 50));
    for (const pid of tree) if (alive(pid)) signal(pid, 'SIGKILL');
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#children].reverse().map((c) => this.stop(c)));
    process.off('exit', this.#onExit);
  }

  /** Synchronous last resort for process 'exit': SIGKILL every child tree still alive. */
  killAllNow(): void {
    for (const c of this.#children) {
      if (c.exited) continue;
      for (const pid of processTree(c.pid)) signal(pid, 'SIGKILL');
    }
  }
}

/** One GET of a /readyz with `Connection: close` (no socket left open in the process measured): status and routable count, or undefined. */
function readyz(url: string, timeoutMs = 2000): Promise<{ status: number; routableBackends: number } | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('error', () => resolve(undefined));
      res.on('end', () => {
        let routableBackends = 0;
        try {
          routableBackends = Number((JSON.parse(body) as { routableBackends?: unknown }).routableBackends) || 0;
        } catch {
          // not JSON: counts as none routable
        }
        resolve({ status: res.statusCode ?? 0, routableBackends });
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
