import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, describe, it, type TestContext } from 'node:test';
import type { EngineName } from '../../balancer/forward/forwarder.js';
import { TEST_SETTINGS, TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/** Sends a GET; `abort()` destroys it; `closed` resolves once the client socket is gone. */
function abortableGet(url: string): { abort: () => void; closed: Promise<void> } {
  const req = httpRequest(url, { agent: false });
  const closed = new Promise<void>((resolve) => {
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('close', () => resolve());
  });
  req.end();
  return { abort: () => req.destroy(), closed };
}

const openFds = (): number => readdirSync('/proc/self/fd').length;
/** The pool's idle time here (the product's default is a minute). */
const IDLE_MS = 1000;

for (const engine of ['undici', 'raw'] as EngineName[]) {
  describe(`client aborts with the ${engine} engine`, () => {
    const closers: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of closers) await c();
    });

    it('1,000 requests aborted mid-flight leave no upstream socket behind', async (t: TestContext) => {
      const backend = await TestBackend.start(`slow-${engine}`);
      // A short idle time, so that a pooled connection left idle closes within the wait below.
      const lb = await TestBalancer.start({ backends: [backend.spec()], settings: { engine, pool: { ...TEST_SETTINGS.pool, idleTimeoutMs: IDLE_MS } } });
      closers.push(
        () => lb.close(),
        () => backend.close(),
      );
      await lb.routable(1);
      const fdsBefore = openFds();
      const upstream = lb.lb.upstreams.get(`slow-${engine}`)!;
      const total = 1000;
      const batch = 50;
      let peak = 0;
      for (let i = 0; i < total; i += batch) {
        const wave = Array.from({ length: batch }, () => abortableGet(`${lb.url}/delay/3000`));
        // Abort mid-flight: once every request of the wave is at the backend.
        await waitFor('the wave to reach the backend', () => backend.state.requests >= i + batch, 10_000, 5);
        peak = Math.max(peak, await backend.connections());
        for (const r of wave) r.abort();
        await Promise.all(wave.map((r) => r.closed));
      }
      const wavesDone = Date.now();
      assert.equal(backend.state.requests, total, 'every request reached the backend before its abort');
      assert.ok(peak >= batch / 2, `upstream sockets were open mid-flight (peak ${peak})`);
      // Aborted requests' sockets close at once. undici may open one spare connection after an
      // abort (undici#5845); an idle pooled connection is closed once idle for IDLE_MS.
      await waitFor('the backend to see every upstream socket closed', async () => (await backend.connections()) === 0, 6000);
      const settledMs = Date.now() - wavesDone;
      await waitFor('the balancer to release every request', () => lb.lb.inFlight === 0 && upstream.inFlight === 0, 5000);
      const fdsAfter = openFds();
      t.diagnostic(`${engine}: ${total} aborted; upstream sockets peak ${peak}, 0 after ${settledMs} ms; fds ${fdsBefore} -> ${fdsAfter}`);
      assert.ok(fdsAfter <= fdsBefore + 5, `open fds went from ${fdsBefore} to ${fdsAfter}`);
    });
  });
}
