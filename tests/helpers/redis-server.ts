import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { sleep } from './wait.js';

/** A private redis-server on a free loopback port, started and stopped by the test. */
export class RedisServer {
  readonly port: number;
  readonly dir = mkdtempSync(join(tmpdir(), 'switchyard-redis-'));
  #proc: ChildProcess | undefined;

  readonly #args: readonly string[];

  private constructor(port: number, args: readonly string[]) {
    this.port = port;
    this.#args = args;
  }

  /** `args` go to redis-server after the test's own (e.g. `--aclfile <path>`). */
  static async start(opts: { args?: readonly string[] } = {}): Promise<RedisServer> {
    const s = new RedisServer(await freePort(), opts.args ?? []);
    await s.#spawn();
    return s;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** A client for the test's own writes (the "second process" of the registry tests). */
  client(): Redis {
    const c = new Redis(this.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    c.on('error', () => undefined);
    return c;
  }

  async #spawn(): Promise<void> {
    const bin = process.env.REDIS_SERVER ?? 'redis-server';
    const proc = spawn(
      bin,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--dbfilename',
        'dump.rdb',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        '--loglevel',
        'warning',
        ...this.#args,
      ],
      { stdio: 'ignore' },
    );
    await new Promise<void>((resolve, reject) => {
      proc.once('error', (err) => reject(new Error(`cannot start ${bin} (install redis-server): ${err.message}`)));
      proc.once('spawn', () => resolve());
    });
    this.#proc = proc;
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableReadyCheck: false });
    probe.on('error', () => undefined);
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
        await sleep(50);
      }
    }
  }

  /**
   * Stops the server. `keepData` saves a snapshot first (a clean restart);
   * without it the data is lost, as after a crash.
   */
  async stop(opts: { keepData?: boolean } = {}): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    if (opts.keepData) {
      const c = new Redis(this.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined);
      await c.call('SHUTDOWN', 'SAVE').catch(() => undefined);
      c.disconnect();
    } else {
      p.kill('SIGKILL');
    }
    await exited;
  }

  /** Sends a signal to the server (SIGSTOP and SIGCONT freeze and thaw it). */
  signal(sig: NodeJS.Signals): void {
    this.#proc?.kill(sig);
  }

  /** Starts the server again on the same port (after stop()). */
  async start(): Promise<void> {
    if (this.#proc) return;
    await this.#spawn();
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
