import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { waitReady } from './wait.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../cli/switchyard.ts', import.meta.url));
/** Node arguments that run the switchyard CLI from source (what `switchyard <command>` is in the tests). */
export const SWITCHYARD_CLI: readonly string[] = ['--import', 'tsx', CLI];

/**
 * Environment every child starts with unless the test overrides it. A backend
 * puts its control listener on --port + 10000 by default, which for the ports
 * tests pick (20000-32000) lands in the kernel's ephemeral range and in other
 * tests' picks: here it takes a port the kernel chooses instead. A test that
 * needs a known control port passes --control-port (a flag beats the env).
 */
const CHILD_DEFAULTS: NodeJS.ProcessEnv = { SWITCHYARD_CONTROL_PORT: '0' };

export interface LogLine {
  readonly msg?: string;
  readonly level?: string;
  readonly [k: string]: unknown;
}

/**
 * A `switchyard <command>` child process run from the TypeScript sources
 * (through tsx), with its JSON log lines collected for assertions.
 */
export class SwitchyardProcess {
  readonly proc: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...CHILD_DEFAULTS, SWITCHYARD_LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: this.proc.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      this.lines.push(line);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve(line);
        return false;
      });
    });
    createInterface({ input: this.proc.stderr! }).on('line', (text) => this.stderr.push(text));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Resolves with the first log line (past or future) whose message is `msg` and that passes `where`. */
  waitForLog(msg: string, timeoutMs = 10_000, where: (l: LogLine) => boolean = () => true, anyMessage = false): Promise<LogLine> {
    const match = (l: LogLine): boolean => (anyMessage || l.msg === msg) && where(l);
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no log '${msg}' within ${timeoutMs} ms; stderr: ${this.stderr.join('\n')}; log: ${this.lines.map((l) => l.msg).join(' | ')}`)),
        timeoutMs,
      );
      this.#waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`process exited (${signal ?? code}) before logging '${msg}'; stderr: ${this.stderr.join('\n')}`));
      });
    });
  }

  /** Resolves with the first output line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitForLog('', timeoutMs, (l) => pattern.test(String(l.msg ?? '')), true);
  }

  /**
   * Resolves once this balancer (or demo) is ready to take traffic: its admin
   * API at `adminUrl` answers `/readyz` 200 with at least `minRoutable`
   * backends past their first health checks. Use it, not the `balancer
   * listening` line, before the first request. Fails at once, with the
   * process's stderr, if it exits first.
   */
  async waitReady(adminUrl: string, minRoutable = 0, timeoutMs = 15_000): Promise<void> {
    let settled = false;
    const exited = this.exited.then(({ code, signal }) => {
      if (!settled) throw new Error(`process exited (${signal ?? code}) before ${adminUrl}/readyz said ready; stderr: ${this.stderr.join('\n')}`);
    });
    try {
      await Promise.race([
        waitReady(adminUrl, minRoutable, timeoutMs).catch((err: unknown) => {
          throw new Error(
            `${String(err)}; stderr: ${this.stderr.join('\n')}; log: ${this.lines
              .slice(-10)
              .map((l) => l.msg)
              .join(' | ')}`,
          );
        }),
        exited,
      ]);
    } finally {
      settled = true;
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

/** A balancer process on free ports of 127.0.0.1, with its proxy and admin URLs. */
export interface RunningBalancer {
  readonly lb: SwitchyardProcess;
  readonly url: string;
  readonly admin: string;
}

/**
 * Starts `switchyard balancer <args>` on two free ports of 127.0.0.1 (proxy and
 * admin API) and waits until it is ready with `minRoutable` backends routable.
 */
export async function startBalancer(
  args: readonly string[],
  opts: { minRoutable?: number; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningBalancer> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const lb = new SwitchyardProcess(['balancer', '--host', '127.0.0.1', '--port', String(port), '--admin-port', String(adminPort), ...args], opts.env);
  const admin = `http://127.0.0.1:${adminPort}`;
  await lb.waitReady(admin, opts.minRoutable ?? 0, opts.timeoutMs);
  return { lb, url: `http://127.0.0.1:${port}`, admin };
}

/** Runs `switchyard <args>` to completion and returns its exit code and output. */
export function runSwitchyard(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...CHILD_DEFAULTS, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`switchyard ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
