import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, describe, it, type TestContext } from 'node:test';
import type { EngineName } from '../../balancer/forward/forwarder.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** Sends a GET and destroys it after `abortAfterMs`, before any answer. */
function abortedGet(url: string, abortAfterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent: false });
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('close', () => resolve());
    req.end();
    setTimeout(() => req.destroy(), abortAfterMs);
  });
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

for (const engine of ['undici', 'http-proxy'] as EngineName[]) {
  describe(`client aborts with the ${engine} engine`, () => {
    const closers: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of closers) await c();
    });

    it('1,000 requests aborted mid-flight leave no upstream socket behind', async (t: TestContext) => {
      const backend = await TestBackend.start(`slow-${engine}`);
      const lb = await TestBalancer.start({ backends: [backend.spec()], settings: { engine } });
      closers.push(() => lb.close(), () => backend.close());
      await lb.routable(1);
      const fdsBefore = openFds();
      const upstream = lb.lb.upstreams.get(`slow-${engine}`)!;
      const total = 1000;
      const batch = 50;
      let peak = 0;
      for (let i = 0; i < total; i += batch) {
        const wave = Array.from({ length: batch }, () => abortedGet(`${lb.url}/delay/3000`, 60));
        await sleep(40);
        peak = Math.max(peak, await backend.connections());
        await Promise.all(wave);
      }
      const wavesDone = Date.now();
      assert.ok(backend.state.requests >= total * 0.98, `the requests reached the backend before the abort (${backend.state.requests})`);
      assert.ok(peak >= batch / 2, `upstream sockets were open mid-flight (peak ${peak})`);
      // Aborted requests' sockets close at once. undici may open one spare connection after an
      // abort (undici#5845); an idle pooled connection is closed by the pool's 4 s idle timeout.
      await waitFor('the backend to see every upstream socket closed', async () => (await backend.connections()) === 0, 6000);
      const settledMs = Date.now() - wavesDone;
      await waitFor('the balancer to release every request', () => lb.lb.inFlight === 0 && upstream.inFlight === 0, 5000);
      const fdsAfter = openFds();
      t.diagnostic(`${engine}: ${total} aborted; upstream sockets peak ${peak}, 0 after ${settledMs} ms; fds ${fdsBefore} -> ${fdsAfter}`);
      assert.ok(fdsAfter <= fdsBefore + 5, `open fds went from ${fdsBefore} to ${fdsAfter}`);
    });
  });
}
