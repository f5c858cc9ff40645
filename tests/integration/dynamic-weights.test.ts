import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { createStrategy, WEIGHT_FACTORS_DEFAULTS } from '../../balancer/strategies/index.js';
import type { Upstream } from '../../balancer/upstream.js';
import { get, testClient } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { sleep } from '../helpers/wait.js';

/**
 * Closed-loop traffic that records which backend answered each request and
 * when, so shares can be read over any window. Bounded in time.
 */
class Traffic {
  readonly log: { at: number; backend: string }[] = [];
  #running = true;
  readonly #done: Promise<void>;

  constructor(url: string, concurrency: number, maxMs: number) {
    const client = testClient(concurrency);
    const deadline = Date.now() + maxMs;
    const worker = async (): Promise<void> => {
      while (this.#running && Date.now() < deadline) {
        const r = await get(url, { dispatcher: client });
        this.log.push({ at: Date.now(), backend: String(r.headers['x-backend']) });
      }
    };
    this.#done = Promise.all(Array.from({ length: concurrency }, worker)).then(() => client.close());
  }

  share(id: string, sinceMs: number): number {
    const from = Date.now() - sinceMs;
    const recent = this.log.filter((l) => l.at >= from);
    return recent.length ? recent.filter((l) => l.backend === id).length / recent.length : 0;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

describe('dynamic-weighted', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('moves traffic away from a backend that turned 50 ms slower, keeps it above the floor, and gives it back when it recovers', async (t: TestContext) => {
    const backends = await Promise.all(['d1', 'd2', 'd3'].map((id) => TestBackend.start(id)));
    // The defaults: measurements of a new backend count after a 10 s blackout.
    const blackoutMs = WEIGHT_FACTORS_DEFAULTS.blackoutMs;
    const lb = await TestBalancer.start({
      backends: backends.map((b) => b.spec()),
      strategy: 'round-robin',
    });
    lb.lb.setStrategy(createStrategy<Upstream>('dynamic-weighted'));
    cleanup.push(() => lb.close(), ...backends.map((b) => () => b.close()));
    await lb.routable(3);
    const traffic = new Traffic(`${lb.url}/`, 6, 70_000);
    cleanup.push(() => traffic.stop());
    let minFactor = Infinity;
    const floorWatch = setInterval(() => {
      for (const u of lb.lb.upstreams.routable) minFactor = Math.min(minFactor, lb.lb.router.facts(u).effectiveWeight / u.spec.weight);
    }, 100);
    cleanup.push(async () => clearInterval(floorWatch));

    await sleep(blackoutMs + 1500);
    const before = traffic.share('d2', 1500);
    assert.ok(before > 0.25, `an equal share before: ${before.toFixed(3)}`);

    await backends[1]!.setFaults({ latencyMs: 50 });
    const slowedAt = Date.now();
    let fellAfterMs = -1;
    while (Date.now() - slowedAt < 10_000) {
      await sleep(250);
      if (Date.now() - slowedAt >= 1500 && traffic.share('d2', 1000) < 0.15) {
        fellAfterMs = Date.now() - slowedAt;
        break;
      }
    }
    assert.ok(fellAfterMs > 0, `d2's share fell below 15 % within 10 s (now ${traffic.share('d2', 1000).toFixed(3)})`);

    await backends[1]!.clearFaults();
    const fixedAt = Date.now();
    let recoveredAfterMs = -1;
    while (Date.now() - fixedAt < 30_000) {
      await sleep(500);
      const s = traffic.share('d2', 2000);
      if (Date.now() - fixedAt >= 2000 && Math.abs(s - 1 / 3) <= 0.1 / 3) {
        recoveredAfterMs = Date.now() - fixedAt;
        break;
      }
    }
    await traffic.stop();
    clearInterval(floorWatch);
    t.diagnostic(
      `d2 +50 ms: share < 15 % after ${fellAfterMs} ms; latency removed: within 10 % of an equal share after ${recoveredAfterMs} ms; lowest weight factor seen ${minFactor.toFixed(3)}`,
    );
    assert.ok(recoveredAfterMs > 0, `d2 recovered to within 10 % of an equal share within 30 s (now ${traffic.share('d2', 2000).toFixed(3)})`);
    assert.ok(minFactor >= 0.1 - 1e-9, `no healthy backend's weight went below the 10 % floor (lowest ${minFactor})`);
  });
});
