import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spec } from '../helpers/hostile.js';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { runSwitchyard, startBalancer } from '../helpers/processes.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/** Sockets in LISTEN on 127.0.0.1:`port`, as the kernel lists them (/proc/net/tcp). */
function listeningSockets(port: number): number {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[1] === hex && f[3] === '0A';
    }).length;
}

/**
 * A child process opens `n` connections to `port` and writes `marker` once all
 * are established (the kernel finished their handshakes; they wait in the
 * listening sockets' accept queues until the balancer takes them).
 */
function openConnections(port: number, n: number, marker: string): ChildProcess {
  const code = `
    const net = require('node:net'); const fs = require('node:fs');
    let open = 0; const keep = [];
    for (let i = 0; i < ${n}; i++) {
      const s = net.connect(${port}, '127.0.0.1', () => { if (++open === ${n}) fs.writeFileSync(${JSON.stringify(marker)}, 'ok'); });
      s.on('error', () => {}); keep.push(s);
    }
    setTimeout(() => process.exit(0), 20000);`;
  return spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
}

/** Blocks this process's event loop (nothing is accepted meanwhile) until `path` exists. */
function blockUntilFile(path: string, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
  }
}

/**
 * The most of `n` connections, all waiting in the accept queues, the balancer
 * takes in one event-loop turn: its loop is held while a child connects them,
 * then released; each accepted connection is counted against the turn it came
 * in (turns counted by a setImmediate chain, one step per check phase).
 */
async function mostAcceptedInOneTurn(t: TestBalancer, n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'swy-shards-'));
  const marker = join(dir, 'connected');
  const perTurn = new Map<number, number>();
  let turn = 0;
  let seen = 0;
  let counting = true;
  const step = (): void => {
    turn++;
    if (counting) setImmediate(step);
  };
  const onConnection = (): void => {
    seen++;
    perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
  };
  t.lb.server.on('connection', onConnection);
  const child = openConnections(t.port, n, marker);
  try {
    blockUntilFile(marker, 15_000);
    setImmediate(step);
    await waitFor(`all ${n} connections accepted`, () => seen >= n);
    return Math.max(...perTurn.values());
  } finally {
    counting = false;
    t.lb.server.off('connection', onConnection);
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the proxy port as a group of listening sockets (--listen-shards)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('one socket takes one waiting connection per event-loop turn; 16 sockets take many (the cause of the 256-connection tail)', async () => {
    const backend = await TestBackend.start('b');
    cleanup.push(() => backend.close());
    for (const [shards, check] of [
      [1, (n: number) => assert.equal(n, 1, 'libuv accepts one connection per listening socket per turn')],
      [16, (n: number) => assert.ok(n >= 8, `16 sockets took only ${n} of 64 waiting connections in one turn`)],
    ] as const) {
      const t = await TestBalancer.start({ backends: [spec('b', backend.url)], settings: { listenShards: shards } });
      try {
        assert.equal(t.lb.listeningSockets, shards);
        assert.equal(listeningSockets(t.port), shards, 'the kernel lists the same number of listening sockets');
        check(await mostAcceptedInOneTurn(t, 64));
      } finally {
        await t.close();
      }
    }
  });

  it('connections on every socket of the group reach the same server; close() frees the port entirely', async () => {
    const backend = await TestBackend.start('b');
    cleanup.push(() => backend.close());
    for (const engine of ['raw', 'undici', 'http-proxy'] as const) {
      const t = await TestBalancer.start({ backends: [spec('b', backend.url)], settings: { engine, listenShards: 8 } });
      const port = t.port;
      try {
        await t.routable(1);
        // Fresh connections land on sockets by their addresses: 48 of them cover the group.
        const replies = await Promise.all(Array.from({ length: 48 }, () => get(`${t.url}/`, { headers: { connection: 'close' } })));
        assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]), `${engine}: every connection answered`);
      } finally {
        await t.close();
      }
      assert.equal(listeningSockets(port), 0, `${engine}: no socket of the group listens after close()`);
      const plain: Server = createServer();
      await new Promise<void>((resolve, reject) => plain.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('a port already in use fails the start with EADDRINUSE, as with one socket: a second balancer never joins the group', async () => {
    const backend = await TestBackend.start('b');
    cleanup.push(() => backend.close());
    const first = await startBalancer(['--backends', `b=${backend.url}`], { minRoutable: 1 });
    cleanup.push(() => first.lb.kill('SIGKILL'));
    const port = Number(new URL(first.url).port);
    assert.equal(listeningSockets(port), 64, 'the default group');
    const second = await runSwitchyard([
      'balancer',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--admin-port',
      String(await freePort()),
      '--backends',
      `b=${backend.url}`,
    ]);
    assert.notEqual(second.code, 0, 'the second balancer does not start');
    assert.match(second.stdout + second.stderr, /EADDRINUSE/);
    assert.equal(listeningSockets(port), 64, 'the first group is as it was');
    assert.equal((await get(`${first.url}/`)).status, 200);
  });
});
