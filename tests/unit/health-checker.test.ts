import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkConcurrency, HttpHealthChecker, type HealthSink, type HttpHealthCheckerOptions } from '../../balancer/health/health-checker.js';
import type { ProbeResult, ProbeTarget } from '../../balancer/health/http-probe.js';
import { createLogger, silentLogger } from '../../common/logger.js';
import { waitFor } from '../helpers/wait.js';

/*
 * The active health checker's scheduling, with the probe replaced: how many
 * checks it runs at once, and what a probe that throws costs it (one failed
 * check, never a slot or a target's later checks).
 */

type Probe = (target: ProbeTarget, timeoutMs: number) => Promise<ProbeResult>;

function checker(probe: Probe, over: Partial<HttpHealthCheckerOptions> = {}): HttpHealthChecker {
  return new HttpHealthChecker({
    path: '/health',
    intervalMs: 40,
    fastIntervalMs: 20,
    timeoutMs: 20,
    rise: 1,
    fall: 1,
    refusedIsFatal: true,
    sink: () => undefined,
    logger: silentLogger(),
    random: () => 0.5,
    probe,
    ...over,
  });
}

describe('how many health checks run at once', () => {
  it('follows the targets and the time a check holds its slot: enough slots for a round, twice over, within 128..1024', () => {
    // [targets, mean slot time (the timeout, when all are silent), interval, limit]
    const table: [number, number, number, number][] = [
      [10, 1000, 2000, 128],
      [128, 1000, 2000, 128],
      [300, 1000, 2000, 300],
      [300, 2000, 2000, 600],
      [1000, 2000, 2000, 1024],
      [10_000, 1000, 2000, 1024],
      [5000, 10, 2000, 128],
    ];
    for (const [targets, timeoutMs, intervalMs, limit] of table)
      assert.equal(checkConcurrency(targets, timeoutMs, intervalMs), limit, `${targets} targets, ${timeoutMs} ms timeout, ${intervalMs} ms interval`);
    // Below the cap, the slots hold a round of timeouts (targets × timeout) within one interval.
    for (const [timeoutMs, intervalMs] of [
      [1000, 2000],
      [2000, 2000],
      [300, 5000],
    ]) {
      for (let n = 0; n < 20_000; n += 97) {
        const limit = checkConcurrency(n, timeoutMs, intervalMs);
        if (limit < 1024) assert.ok(limit * intervalMs >= 2 * n * timeoutMs, `${n} targets, ${timeoutMs}/${intervalMs} ms: ${limit}`);
      }
    }
  });

  it('300 targets answering at once are checked 128 at a time: no more connections than a quick round needs', async () => {
    let inFlight = 0;
    let peak = 0;
    const quick: Probe = () => {
      peak = Math.max(peak, ++inFlight);
      return new Promise((resolve) => setImmediate(() => (inFlight--, resolve({ status: 200 }))));
    };
    const c = checker(quick, { timeoutMs: 1000, intervalMs: 1000 });
    for (let i = 0; i < 300; i++) c.watch({ id: `b${i}`, url: `http://10.0.0.${i % 250}:8080` });
    await c.start();
    assert.equal(peak, 128);
    await c.close();
  });

  it('300 targets whose checks time out (slot time near the interval): once the first ones time out, the rest are all in flight at once, not 128', async () => {
    const held: (() => void)[] = [];
    let inFlight = 0;
    const hold: Probe = () =>
      new Promise((resolve) => {
        inFlight++;
        held.push(() => {
          inFlight--;
          resolve({ error: 'timeout' });
        });
      });
    const c = checker(hold, { timeoutMs: 400, intervalMs: 400 });
    for (let i = 0; i < 300; i++) c.watch({ id: `b${i}`, url: `http://10.0.0.${i % 250}:8080` });
    const started = c.start();
    await waitFor('the first 128 checks to start', () => inFlight === 128);
    // They time out (held for 300 ms or more: the slot time measured is about the timeout).
    await new Promise((r) => setTimeout(r, 300));
    for (const release of held.splice(0)) release();
    await waitFor('the other 172 to be in flight together', () => inFlight === 172, 5000);
    for (const release of held.splice(0)) release();
    await started;
    await c.close();
  });

  it('a fixed maxConcurrent still caps them', async () => {
    const held: (() => void)[] = [];
    let peak = 0;
    const hold: Probe = () =>
      new Promise((resolve) => {
        held.push(() => resolve({ status: 200 }));
        peak = Math.max(peak, held.length);
      });
    const c = checker(hold, { timeoutMs: 1000, intervalMs: 1000, maxConcurrent: 7 });
    for (let i = 0; i < 50; i++) c.watch({ id: `b${i}`, url: `http://10.0.1.${i}:8080` });
    const started = c.start();
    await waitFor('the checks to start', () => peak >= 7);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(peak, 7);
    while (held.length) {
      for (const release of held.splice(0)) release();
      await new Promise((r) => setTimeout(r, 5));
    }
    await started;
    await c.close();
  });
});

describe('a check that throws', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => void unhandled.push(err);
  before(() => process.on('unhandledRejection', onUnhandled));
  after(() => process.off('unhandledRejection', onUnhandled));

  it('is a failed check, synchronously thrown or rejected, and gives its slot back: with one slot, the healthy target is still checked', async () => {
    const calls = new Map<string, number>();
    const probe: Probe = (target) => {
      calls.set(target.host, (calls.get(target.host) ?? 0) + 1);
      if (target.host === 'throws.test') throw Object.assign(new RangeError('Port should be >= 0 and < 65536'), { code: 'ERR_SOCKET_BAD_PORT' });
      if (target.host === 'rejects.test') return Promise.reject(new Error('boom'));
      return Promise.resolve({ status: 200 });
    };
    const reported: string[] = [];
    const c = checker(probe, { maxConcurrent: 1, sink: (id, status) => void reported.push(`${id} ${status}`) });
    for (const id of ['throws', 'rejects', 'ok']) c.watch({ id, url: `http://${id}.test:8080` });
    try {
      await c.start();
      assert.deepEqual(reported.sort(), ['ok healthy', 'rejects unhealthy', 'throws unhealthy'], 'the first round checked all three');
      assert.deepEqual(pick(c.state('throws')?.last), { outcome: 'fail', error: 'ERR_SOCKET_BAD_PORT' });
      assert.deepEqual(pick(c.state('rejects')?.last), { outcome: 'fail', error: 'boom' });
      assert.equal(c.state('ok')?.health.status, 'healthy');
      // Checks go on for all three: no slot and no target was lost.
      await waitFor('three more checks of each target', () => ['throws.test', 'rejects.test', 'ok.test'].every((h) => (calls.get(h) ?? 0) >= 4));
      assert.deepEqual(unhandled, []);
    } finally {
      await c.close();
    }
  });

  it('a sink that throws is logged as an error, and checks and the first round go on', async () => {
    const lines: { level: number; msg: string; backendId?: string }[] = [];
    const logger = createLogger('test', 'error', { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
    let checks = 0;
    const probe: Probe = () => (checks++, Promise.resolve(checks % 2 ? { status: 200 } : { status: 500 }));
    const sink: HealthSink = () => {
      throw new Error('sink is broken');
    };
    const c = checker(probe, { maxConcurrent: 1, sink, logger });
    c.watch({ id: 'flapping', url: 'http://flapping.test:8080' });
    try {
      await c.start();
      assert.ok(c.state('flapping')?.last, 'the first round heard of the check');
      await waitFor('checks to go on', () => checks >= 4);
      assert.ok(
        lines.some((l) => l.msg === 'health check result could not be recorded' && l.backendId === 'flapping'),
        JSON.stringify(lines),
      );
      assert.deepEqual(unhandled, []);
    } finally {
      await c.close();
    }
  });
});

function pick(r: { outcome: string; error?: string } | undefined): { outcome?: string; error?: string } {
  return { outcome: r?.outcome, error: r?.error };
}
