import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readTcpTableSync, TCP_LISTEN } from '../../common/proc-net-tcp.js';
import { spec } from '../helpers/hostile.js';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { runSwitchyard, startBalancer } from '../helpers/processes.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/** Sockets in LISTEN on 127.0.0.1:`port`, as the kernel lists them (/proc/net/tcp). */
function listeningSockets(port: number): number {
  return (readTcpTableSync() ?? []).filter((e) => e.state === TCP_LISTEN && e.localAddress === '127.0.0.1' && e.localPort === port).length;
}

interface StartTraffic {
  readonly refused: number;
  readonly served: number;
  readonly other: Record<string, number>;
}

/**
 * A child process that connects to `port` again and again, one connection at
 * a time (each sends a request and reads the answer to its end), from before
 * anything listens until `served` answers came. It prints "waiting" once its
 * first attempt was refused, then its counts as JSON.
 */
function clientFromBeforeTheStart(port: number, served: number): { proc: ChildProcess; waiting: Promise<void>; result: Promise<StartTraffic> } {
  const code = `
    const net = require('node:net');
    const counts = { refused: 0, served: 0, other: {} };
    let said = false;
    const next = () => {
      if (counts.served >= ${served}) { process.stdout.write(JSON.stringify(counts) + '\\n'); process.exit(0); }
      const s = net.connect(${port}, '127.0.0.1');
      let reply = '';
      s.on('connect', () => s.write('GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
      s.on('data', (d) => { reply += d; });
      s.on('error', (err) => {
        if (err.code === 'ECONNREFUSED') { counts.refused++; if (!said) { said = true; process.stdout.write('waiting\\n'); } }
        else counts.other[err.code] = (counts.other[err.code] || 0) + 1;
      });
      s.on('close', (hadError) => {
        if (!hadError) {
          if (reply.startsWith('HTTP/1.1 200')) counts.served++;
          else counts.other['reply ' + reply.slice(0, 12)] = (counts.other['reply ' + reply.slice(0, 12)] || 0) + 1;
        }
        setImmediate(next);
      });
    };
    next();
    setTimeout(() => { process.stdout.write(JSON.stringify(counts) + '\\n'); process.exit(1); }, 20000);`;
  const proc = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  let onWaiting: () => void = () => {};
  const waiting = new Promise<void>((resolve) => (onWaiting = resolve));
  const result = new Promise<StartTraffic>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'waiting') onWaiting();
      else resolve(JSON.parse(line) as StartTraffic);
    });
    proc.on('exit', (code) => reject(new Error(`the client exited ${code} without its counts`)));
  });
  return { proc, waiting, result };
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
    for (const engine of ['raw', 'undici'] as const) {
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

  it('a client that connects while the group starts is refused or served, never accepted and reset (the port is checked, not probed)', async (t) => {
    const backend = await TestBackend.start('b');
    cleanup.push(() => backend.close());
    const totals = { refused: 0, served: 0, other: {} as Record<string, number> };
    for (let round = 0; round < 15; round++) {
      const port = await freePort();
      const client = clientFromBeforeTheStart(port, 3);
      try {
        await client.waiting;
        const lb = await TestBalancer.start({ port, backends: [spec('b', backend.url)] });
        try {
          const r = await client.result;
          totals.refused += r.refused;
          totals.served += r.served;
          for (const [k, v] of Object.entries(r.other)) totals.other[k] = (totals.other[k] ?? 0) + v;
        } finally {
          await lb.close();
        }
      } finally {
        client.proc.kill('SIGKILL');
      }
    }
    t.diagnostic(`15 starts: ${totals.refused} connections refused before the group listened, ${totals.served} served, other ${JSON.stringify(totals.other)}`);
    assert.deepEqual(totals.other, {}, 'no connection was reset or answered otherwise');
    assert.equal(totals.served, 45);
  });

  it('two balancers that start on one port at the same moment never both listen', async () => {
    const backend = await TestBackend.start('b');
    cleanup.push(() => backend.close());
    for (let round = 0; round < 5; round++) {
      const port = await freePort();
      const starts = await Promise.allSettled([0, 1].map(() => TestBalancer.start({ port, backends: [spec('b', backend.url)] })));
      const up = starts.filter((s) => s.status === 'fulfilled').map((s) => s.value);
      for (const s of starts) if (s.status === 'rejected') assert.equal((s.reason as NodeJS.ErrnoException).code, 'EADDRINUSE');
      try {
        assert.ok(up.length <= 1, `round ${round}: ${up.length} balancers listen on one port`);
        assert.equal(listeningSockets(port), 64 * up.length, `round ${round}: only the one that started holds sockets`);
      } finally {
        for (const u of up) await u.close();
      }
    }
  });
});
