import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import { DEFAULT_RESILIENCE } from '../../balancer/router.js';
import { parseBackendSpec } from '../../common/backend.js';
import { loadLoop, testClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { TestBalancer } from '../helpers/stack.js';

const noHealth = { enabled: false, path: '/health', intervalMs: 1000, fastIntervalMs: 100, timeoutMs: 500, rise: 2, fall: 3 };

describe('the retry budget', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('keeps retries within budget under a full outage of all backends (counting upstream attempts)', async (t: TestContext) => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const specs = ports.map((p, i) => {
      const r = parseBackendSpec({ id: `dead${i}`, url: `http://127.0.0.1:${p}` });
      assert.ok(r.ok);
      return r.value;
    });
    const budget = { ratio: 0.2, minPerSecond: 3, windowMs: 10_000 };
    const lb = await TestBalancer.start({
      backends: specs,
      settings: {
        health: noHealth,
        maxRetries: 2,
        resilience: { ...DEFAULT_RESILIENCE, outlier: { consecutiveFailures: 0 }, breaker: undefined, retryBudget: budget },
      },
    });
    cleanup.push(() => lb.close());
    await lb.routable(3);
    const client = testClient(16);
    cleanup.push(() => client.close());
    const requests = 600;
    const r = await loadLoop(`${lb.url}/`, requests, 16, { dispatcher: client });
    assert.equal(r.ok, 0);
    const attempts = lb.lb.upstreams.all.reduce((n, u) => n + u.requests, 0);
    const retries = attempts - requests;
    const allowed = budget.ratio * requests + budget.minPerSecond * (budget.windowMs / 1000);
    t.diagnostic(`full outage: ${requests} requests, ${attempts} upstream attempts (${retries} retries; budget ${allowed}); without a budget: ${requests * 3}`);
    assert.ok(retries <= allowed, `${retries} retries > budget ${allowed}`);
    assert.ok(retries >= budget.ratio * requests * 0.9, 'the budget is used, not wasted');
    assert.equal(retries, lb.lb.retriesTotal);
    assert.equal(lb.lb.router.retryBudget.status().rejected > 0, true);
  });

  it('never retries a non-idempotent request whose body was already streamed', async () => {
    let hits = 0;
    let received = 0;
    // Reads the whole body, then drops the connection without answering.
    const eater = createServer((req) => {
      hits++;
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => req.socket.destroy());
    });
    await new Promise<void>((r) => eater.listen(0, '127.0.0.1', () => r()));
    const other = createServer((_req, res) => res.end('other'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    const spec = (id: string, s: typeof eater) => {
      const r = parseBackendSpec({ id, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}` });
      assert.ok(r.ok);
      return r.value;
    };
    const lb = await TestBalancer.start({ backends: [spec('a-eater', eater), spec('b-other', other)], settings: { health: noHealth } });
    cleanup.push(
      () => lb.close(),
      async () => void eater.close(),
      async () => void other.close(),
    );
    await lb.routable(2);
    async function* body(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 8; i++) yield Buffer.alloc(16_384, 97);
    }
    const res = await request(`${lb.url}/upload`, { method: 'POST', body: Readable.from(body()) });
    await res.body.text();
    assert.equal(res.statusCode, 502);
    assert.equal(hits, 1, 'sent once, never again');
    assert.equal(received, 8 * 16_384, 'the body had gone out');
    assert.equal(lb.lb.retriesTotal, 0);
  });
});
