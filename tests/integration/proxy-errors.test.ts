import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { parseBackendSpec, type BackendSpec } from '../../common/backend.js';
import { get, json } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { DEFAULT_RESILIENCE } from '../../balancer/router.js';
import { TEST_SETTINGS, TestBackend, TestBalancer } from '../helpers/stack.js';

type ErrorBody = { error: { code: string; message: string; requestId: string } };

function spec(id: string, url: string): BackendSpec {
  const r = parseBackendSpec({ id, url });
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

/** A raw server whose behaviour per request the test decides. */
async function rawServer(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    handler!(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits };
}

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const noHealth = { health: { enabled: false, path: '/health', intervalMs: 1000, fastIntervalMs: 100, timeoutMs: 500, rise: 2, fall: 3 } };

describe('error answers from the catalogue', () => {
  it('answers 503 SWY_NO_BACKEND with Retry-After when nothing is routable', async () => {
    const lb = await TestBalancer.start();
    cleanup.push(() => lb.close());
    // readiness: none on purpose; with no backend at all the 503 is what is tested.
    const r = await get(`${lb.url}/x`);
    assert.equal(r.status, 503);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['retry-after'], '1');
    const body = json<ErrorBody>(r);
    assert.equal(body.error.code, 'SWY_NO_BACKEND');
    assert.equal(body.error.requestId, r.headers['x-request-id']);
  });

  it('answers 502 SWY_UPSTREAM_REFUSED when the only backend refuses', async () => {
    const port = await freePort();
    const lb = await TestBalancer.start({ backends: [spec('dead', `http://127.0.0.1:${port}`)], settings: noHealth });
    cleanup.push(() => lb.close());
    await lb.routable(1);
    const r = await get(`${lb.url}/`);
    assert.equal(r.status, 502);
    assert.equal(json<ErrorBody>(r).error.code, 'SWY_UPSTREAM_REFUSED');
  });

  it('answers 504 SWY_UPSTREAM_TIMEOUT when the backend is too slow', async () => {
    const slow = await TestBackend.start('slow', { faults: { latencyMs: 2000, errorRate: 0, errorStatus: 500, unhealthy: false, hang: false } });
    const lb = await TestBalancer.start({
      backends: [slow.spec()],
      settings: { pool: { ...TEST_SETTINGS.pool, connections: 8, connectTimeoutMs: 500, headersTimeoutMs: 300, bodyTimeoutMs: 300 } },
    });
    cleanup.push(async () => {
      await lb.close();
      await slow.close();
    });
    await lb.routable(1);
    const t0 = Date.now();
    const r = await get(`${lb.url}/`);
    assert.equal(r.status, 504);
    assert.equal(json<ErrorBody>(r).error.code, 'SWY_UPSTREAM_TIMEOUT');
    assert.ok(Date.now() - t0 < 1500, 'the timeout is not retried elsewhere');
  });

  for (const engine of ['raw', 'undici'] as const)
    it(`${engine} engine: with --retry-on-timeout, sends a GET whose head did not come in time to another backend, and still answers a POST 504`, async () => {
      const slow = await TestBackend.start('slow', { faults: { latencyMs: 3000, errorRate: 0, errorStatus: 500, unhealthy: false, hang: false } });
      const fast = await TestBackend.start('fast');
      const lb = await TestBalancer.start({
        backends: [slow.spec(), fast.spec()],
        settings: {
          ...noHealth,
          engine,
          retryOnTimeout: true,
          pool: { ...TEST_SETTINGS.pool, connections: 8, connectTimeoutMs: 500, headersTimeoutMs: 300, bodyTimeoutMs: 300 },
          // Two timeouts must not eject the slow backend here: the POSTs below go one to each.
          resilience: { ...DEFAULT_RESILIENCE, outlier: { consecutiveFailures: 0 }, breaker: undefined },
        },
      });
      cleanup.push(async () => {
        await lb.close();
        await slow.close();
        await fast.close();
      });
      await lb.routable(2);
      // Round-robin: of two GETs in a row, one goes to the slow backend first.
      for (let i = 0; i < 2; i++) {
        const t0 = Date.now();
        const r = await get(`${lb.url}/`);
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-backend'], 'fast');
        assert.ok(Date.now() - t0 < 2500, 'answered by the fast backend, not after the slow one');
      }
      const posts = await Promise.all([0, 1].map(() => get(`${lb.url}/echo`, { method: 'POST', body: 'x' })));
      assert.deepEqual(posts.map((r) => r.status).sort(), [200, 504]);
    });

  it('answers 502 SWY_UPSTREAM_RESET when the backend drops the connection', async () => {
    const rude = await rawServer((req) => req.socket.destroy());
    const lb = await TestBalancer.start({ backends: [spec('rude', rude.url)], settings: noHealth });
    cleanup.push(async () => {
      await lb.close();
      rude.server.close();
    });
    await lb.routable(1);
    const r = await get(`${lb.url}/`, { method: 'POST', body: 'x' });
    assert.equal(r.status, 502);
    assert.equal(json<ErrorBody>(r).error.code, 'SWY_UPSTREAM_RESET');
    assert.equal(rude.hits(), 1, 'a POST whose body went out is never retried');
  });
});

describe('response passthrough', () => {
  it('passes duplicate headers such as Set-Cookie unchanged', async () => {
    const cookies = await rawServer((_req, res) => {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
      res.end('ok');
    });
    for (const engine of ['undici', 'raw'] as const) {
      const lb = await TestBalancer.start({ backends: [spec('c', cookies.url)], settings: { ...noHealth, engine } });
      try {
        await lb.routable(1);
        const r = await get(`${lb.url}/`);
        assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly'], engine);
      } finally {
        await lb.close();
      }
    }
    cookies.server.close();
  });
});

describe('retries on another backend', () => {
  it('retries connect failures for any method, so a dead backend costs no request', async () => {
    const live = await TestBackend.start('live');
    const port = await freePort();
    const lb = await TestBalancer.start({ backends: [spec('dead', `http://127.0.0.1:${port}`), live.spec()], settings: noHealth });
    cleanup.push(async () => {
      await lb.close();
      await live.close();
    });
    await lb.routable(2);
    for (let i = 0; i < 10; i++) {
      const r = await get(`${lb.url}/echo`, { method: i % 2 ? 'POST' : 'GET', body: i % 2 ? 'payload' : undefined });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-backend'], 'live');
      if (i % 2) assert.equal(json<{ bodyBytes: number }>(r).bodyBytes, 7);
    }
    assert.equal(lb.lb.upstreams.get('dead')!.failures, 5, 'every other request tried the dead one first');
  });

  it('retries a reset GET elsewhere but not a reset POST', async () => {
    const rude = await rawServer((req) => req.socket.destroy());
    const live = await TestBackend.start('live2');
    const lb = await TestBalancer.start({
      backends: [spec('a-rude', rude.url), live.spec()],
      settings: { ...noHealth, resilience: { ...DEFAULT_RESILIENCE, outlier: { consecutiveFailures: 0 }, breaker: undefined } },
    });
    cleanup.push(async () => {
      await lb.close();
      await live.close();
      rude.server.close();
    });
    await lb.routable(2);
    for (let i = 0; i < 6; i++) {
      const r = await get(`${lb.url}/`);
      assert.equal(r.status, 200, 'a GET reset by a-rude is retried on live2');
      assert.equal(r.headers['x-backend'], 'live2');
    }
    assert.ok(rude.hits() >= 2, `GETs reached a-rude first (${rude.hits()})`);
    const before = rude.hits();
    let refused = 0;
    for (let i = 0; i < 6; i++) {
      const r = await get(`${lb.url}/echo`, { method: 'POST', body: 'x' });
      if (r.status === 502) {
        refused++;
        assert.equal(json<ErrorBody>(r).error.code, 'SWY_UPSTREAM_RESET');
      } else assert.equal(r.status, 200);
    }
    assert.ok(refused >= 2, 'round robin sent POSTs to a-rude');
    assert.equal(rude.hits() - before, refused, 'each POST that reached a-rude was answered 502 and never retried');
  });

  it('cuts the client connection when a backend fails after the response started', async () => {
    const half = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const lb = await TestBalancer.start({ backends: [spec('half', half.url)], settings: noHealth });
    cleanup.push(async () => {
      await lb.close();
      half.server.close();
    });
    await lb.routable(1);
    await assert.rejects(get(`${lb.url}/`), 'a truncated body is an error for the client, never a short 200');
  });
});
