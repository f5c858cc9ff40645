import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Agent, request } from 'undici';
import { get, json } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { TestBackend } from '../helpers/stack.js';
import { NO_FAULTS } from '../../backend/faults.js';

/*
 * Warm start (issue 13): a balancer opens its proxy listener only after the
 * first round of health checks of the backends it starts with, so traffic
 * that arrives from the first moment the port accepts is served, never
 * answered 503 because no check has passed yet. Every request here opens its
 * own connection; from the first one the port accepts, a refused connection
 * counts as a failure just like a 503.
 */

interface Traffic {
  /** Connection attempts refused before the port first accepted (the process was still starting). */
  readonly beforeListening: number;
  readonly served: number;
  readonly failures: readonly string[];
}

/** One request after another, each on a new connection, from before the balancer listens until `durationMs` after it first answered. */
async function trafficFromTheFirstConnection(url: string, durationMs: number, giveUpMs = 30_000): Promise<Traffic> {
  const agent = new Agent({ connections: 1, pipelining: 0, connectTimeout: 2000 });
  let beforeListening = 0;
  let served = 0;
  const failures: string[] = [];
  let firstAt: number | undefined;
  const deadline = performance.now() + giveUpMs;
  try {
    while (performance.now() < deadline && (firstAt === undefined || performance.now() - firstAt < durationMs)) {
      try {
        const res = await request(url, { dispatcher: agent, reset: true, headersTimeout: 5000, bodyTimeout: 5000 });
        await res.body.dump();
        firstAt ??= performance.now();
        if (res.statusCode === 200) served++;
        else failures.push(`status ${res.statusCode} after ${Math.round(performance.now() - firstAt)} ms`);
      } catch (err) {
        const code = (err as { code?: string }).code ?? String(err);
        if (firstAt === undefined && code === 'ECONNREFUSED') {
          beforeListening++;
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        failures.push(`${code} after ${firstAt === undefined ? 'no answer yet' : `${Math.round(performance.now() - firstAt)} ms`}`);
      }
    }
  } finally {
    await agent.close();
  }
  return { beforeListening, served, failures };
}

/** SIGTERM, and SIGKILL when it has not gone in 10 s. */
async function stop(p: SwitchyardProcess | undefined): Promise<void> {
  if (!p) return;
  const timer = setTimeout(() => void p.kill('SIGKILL'), 10_000);
  await p.kill('SIGTERM');
  clearTimeout(timer);
}

describe('warm start: the first round of health checks completes before the proxy takes traffic', () => {
  let backend: TestBackend;
  let hanging: TestBackend;

  before(async () => {
    backend = await TestBackend.start('warm-1');
    // Accepts connections and never answers: its first check can only time out.
    hanging = await TestBackend.start('warm-hang', { faults: { ...NO_FAULTS, hang: true } });
  });

  after(async () => {
    await backend?.close();
    await hanging?.close();
  });

  it('five starts in a row with a healthy static backend: traffic from the first accepted connection gets no 503 and no refusal', async (t: TestContext) => {
    for (let round = 1; round <= 5; round++) {
      const [port, adminPort] = [await freePort(), await freePort()];
      const traffic = trafficFromTheFirstConnection(`http://127.0.0.1:${port}/`, 400);
      const lb = new SwitchyardProcess([
        'balancer',
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--admin-port',
        String(adminPort),
        '--backends',
        `w1=${backend.url}`,
      ]);
      try {
        const r = await traffic;
        t.diagnostic(`start ${round}: ${r.beforeListening} attempts refused while starting, then ${r.served} served, ${r.failures.length} failed`);
        assert.ok(r.beforeListening > 0, 'the traffic began before the balancer listened');
        assert.ok(r.served >= 20, `requests were served (${r.served})`);
        assert.deepEqual(r.failures, [], `start ${round}: no request failed once the port accepted`);
        const ready = await get(`http://127.0.0.1:${adminPort}/readyz`);
        assert.equal(ready.status, 200);
        assert.equal(json<{ routableBackends: number }>(ready).routableBackends, 1);
      } finally {
        await stop(lb);
      }
    }
  });

  it('with --workers 2 as well: the workers listen with the health the primary checked', async (t: TestContext) => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const traffic = trafficFromTheFirstConnection(`http://127.0.0.1:${port}/`, 400);
    const lb = new SwitchyardProcess([
      'balancer',
      '--workers',
      '2',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--admin-port',
      String(adminPort),
      '--backends',
      `w1=${backend.url}`,
    ]);
    try {
      const r = await traffic;
      t.diagnostic(`${r.beforeListening} attempts refused while starting, then ${r.served} served, ${r.failures.length} failed`);
      assert.ok(r.served >= 20, `requests were served (${r.served})`);
      assert.deepEqual(r.failures, []);
    } finally {
      await stop(lb);
    }
  });

  it('a backend that never answers holds the listener back by one check timeout at most, and /readyz says not ready meanwhile', async (t: TestContext) => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const timeoutMs = 1500;
    const lb = new SwitchyardProcess([
      'balancer',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--admin-port',
      String(adminPort),
      '--health-timeout',
      String(timeoutMs),
      '--backends',
      `w1=${backend.url},hang=${hanging.url}`,
    ]);
    try {
      // The admin API starts before the proxy: while the first round runs it answers, not ready.
      const notReady = await waitForAnswer(`http://127.0.0.1:${adminPort}/readyz`);
      const sawNotReadyAt = performance.now();
      assert.equal(notReady.status, 503, 'not ready while the first round of checks runs');
      assert.equal(json<{ listening: boolean }>(notReady).listening, false);
      const r = await trafficFromTheFirstConnection(`http://127.0.0.1:${port}/`, 300);
      const waited = performance.now() - sawNotReadyAt;
      t.diagnostic(`listening ${Math.round(waited)} ms after /readyz first answered; then ${r.served} served`);
      assert.ok(
        waited <= timeoutMs + 3000,
        `the hanging backend held the listener back ${Math.round(waited)} ms, not more than its check timeout and some slack`,
      );
      assert.deepEqual(r.failures, []);
      const round = await lb.waitForLog('first round of health checks done', 5000);
      assert.equal(round.targets, 2);
      assert.equal(round.healthy, 1);
      const ready = await get(`http://127.0.0.1:${adminPort}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(json<{ routableBackends: number }>(ready).routableBackends, 1);
    } finally {
      await stop(lb);
    }
  });
});

/** Polls until the URL answers at all (any status): the admin API listens a moment after the process starts. */
async function waitForAnswer(
  url: string,
  timeoutMs = 20_000,
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await get(url);
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
