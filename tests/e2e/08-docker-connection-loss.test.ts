import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import Docker from 'dockerode';
import { silentLogger } from '../../common/logger.js';
import type { ContainerEvent } from '../../controller/container-source.js';
import { DockerSource } from '../../controller/docker-source.js';
import { nowMs } from './support/load.js';
import { dockerCli, E2E, ensureStack, waitFor } from './support/stack.js';

/** A Unix socket in front of the engine's socket that the test can cut and restore. */
class CuttableEngineSocket {
  readonly path = join(tmpdir(), `swy-docker-${process.pid}.sock`);
  readonly #conns = new Set<Socket>();
  #server: Server | undefined;

  async open(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((client) => {
      const upstream = createConnection('/var/run/docker.sock');
      for (const s of [client, upstream]) {
        this.#conns.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.#conns.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.#server = server;
  }

  /** The engine "goes away": the socket stops answering and open connections break. */
  async cut(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    for (const c of this.#conns) c.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}

/**
 * Docker loss: the controller's event stream reconnects with backoff when the
 * engine's socket breaks, reports the reconnection (the controller resyncs
 * on it), and follows events again. Against the real engine and dockerode.
 */
describe('the Docker event stream survives losing the engine', () => {
  const engine = new CuttableEngineSocket();
  const label = `swyloss${process.pid}`;
  const name = `${E2E.project}-connection-loss`;
  let source: DockerSource;
  const events: ContainerEvent[] = [];
  const connects: number[] = [];
  const disconnects: number[] = [];

  before(async () => {
    await ensureStack(3); // for the image
    await dockerCli('rm', '-f', name).catch(() => undefined);
    await engine.open();
    source = new DockerSource({
      docker: new Docker({ socketPath: engine.path }),
      labelPrefix: label,
      logger: silentLogger(),
      backoff: (n) => Math.min(1000, 100 * 2 ** (n - 1)),
    });
    source.watch({
      event: (e) => events.push(e),
      connected: () => connects.push(nowMs()),
      disconnected: () => disconnects.push(nowMs()),
      changed: () => undefined,
    });
    await source.start();
  });
  after(async () => {
    await source.close();
    await engine.cut();
    await dockerCli('rm', '-f', name).catch(() => undefined);
  });

  it('reconnects after the engine was unreachable for 2 s and sees the next events', async (t: TestContext) => {
    await waitFor('first connection', () => connects.length === 1, 10_000);
    await engine.cut();
    const cutAt = nowMs();
    await waitFor('the break to be noticed', () => disconnects.length >= 1, 5000);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(connects.length, 1, 'no connection while the engine is away');
    // Backoff 100, 200, 400, 800 ms...: a handful of attempts in 2 s, not a busy loop.
    assert.ok(disconnects.length >= 2 && disconnects.length <= 6, `reconnect attempts with backoff (${disconnects.length})`);
    await engine.open();
    const backAt = nowMs();
    await waitFor('reconnected', () => connects.length === 2, 5000, 10);
    t.diagnostic(
      `break noticed ${(disconnects[0]! - cutAt).toFixed(0)} ms after the cut; ${disconnects.length} failed attempts; reconnected ${(connects[1]! - backAt).toFixed(0)} ms after the engine returned`,
    );
    assert.ok(connects[1]! - backAt < 1500, 'capped backoff: reconnected within one backoff step');

    const id = (
      await dockerCli(
        'run',
        '-d',
        '--name',
        name,
        '--label',
        `${label}.enable=true`,
        '--label',
        `switchyard.e2e=${E2E.project}`,
        '--entrypoint',
        'node',
        E2E.image,
        '-e',
        'setTimeout(() => {}, 60000)',
      )
    ).trim();
    const started = await waitFor('the start event after the reconnection', () => events.find((e) => e.action === 'start' && e.containerId === id), 10_000);
    assert.equal(started.name, name);
    const listed = await source.list();
    assert.deepEqual(
      listed.map((c) => [c.id, c.state]),
      [[id, 'running']],
    );
  });
});
