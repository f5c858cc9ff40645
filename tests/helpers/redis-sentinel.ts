import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

export interface SentinelSettings {
  /** The group's name in `sentinel monitor`. */
  readonly masterName: string;
  readonly primaryPort: number;
  readonly quorum: number;
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
  /** The ACL user and password the sentinel logs in to the data nodes with. */
  readonly authUser: string;
  readonly authPass: string;
  /** Clients' and other sentinels' password for this sentinel (requirepass and sentinel-pass). */
  readonly password: string;
}

/** A private redis-sentinel on a free loopback port, with its own config file (sentinels rewrite theirs). */
export class RedisSentinel {
  readonly port: number;
  readonly dir = mkdtempSync(join(tmpdir(), 'switchyard-sentinel-'));
  readonly #settings: SentinelSettings;
  #proc: ChildProcess | undefined;

  private constructor(port: number, settings: SentinelSettings) {
    this.port = port;
    this.#settings = settings;
  }

  static async start(settings: SentinelSettings): Promise<RedisSentinel> {
    const s = new RedisSentinel(await freePort(), settings);
    await s.#spawn();
    return s;
  }

  /** A client of this sentinel (SENTINEL commands). */
  client(): Redis {
    const c = new Redis({ host: '127.0.0.1', port: this.port, password: this.#settings.password, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    c.on('error', () => undefined);
    return c;
  }

  async #spawn(): Promise<void> {
    const s = this.#settings;
    const conf = join(this.dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${this.port}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        'loglevel warning',
        `requirepass ${s.password}`,
        `sentinel sentinel-pass ${s.password}`,
        `sentinel monitor ${s.masterName} 127.0.0.1 ${s.primaryPort} ${s.quorum}`,
        `sentinel down-after-milliseconds ${s.masterName} ${s.downAfterMs}`,
        `sentinel failover-timeout ${s.masterName} ${s.failoverTimeoutMs}`,
        `sentinel parallel-syncs ${s.masterName} 1`,
        `sentinel auth-user ${s.masterName} ${s.authUser}`,
        `sentinel auth-pass ${s.masterName} ${s.authPass}`,
        '',
      ].join('\n'),
    );
    const bin = process.env.REDIS_SENTINEL ?? 'redis-sentinel';
    const proc = spawn(bin, [conf], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      proc.once('error', (err) => reject(new Error(`cannot start ${bin} (install redis-sentinel): ${err.message}`)));
      proc.once('spawn', () => resolve());
    });
    this.#proc = proc;
    const c = this.client();
    try {
      await waitFor(
        `redis-sentinel on port ${this.port} to answer`,
        () =>
          c.ping().then(
            (r) => r === 'PONG',
            () => false,
          ),
        5000,
        50,
      );
    } finally {
      c.disconnect();
    }
  }

  /** The primary's address as this sentinel names it now. */
  async primary(): Promise<string | undefined> {
    const c = this.client();
    try {
      const r = (await c.call('SENTINEL', 'get-master-addr-by-name', this.#settings.masterName)) as string[] | null;
      return r ? `${r[0]}:${r[1]}` : undefined;
    } finally {
      c.disconnect();
    }
  }

  /** How many replicas and other sentinels this sentinel knows of for the group. */
  async known(): Promise<{ replicas: number; sentinels: number }> {
    const c = this.client();
    try {
      const name = this.#settings.masterName;
      const replicas = (await c.call('SENTINEL', 'replicas', name)) as unknown[];
      const sentinels = (await c.call('SENTINEL', 'sentinels', name)) as unknown[];
      return { replicas: replicas.length, sentinels: sentinels.length };
    } finally {
      c.disconnect();
    }
  }

  async close(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (p && p.exitCode === null) {
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
