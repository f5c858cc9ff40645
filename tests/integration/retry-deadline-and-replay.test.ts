import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import { DEFAULT_RESILIENCE } from '../../balancer/router.js';
import { parseBackendSpec, type BackendSpec } from '../../common/backend.js';
import { testClient } from '../helpers/http.js';
import { RawBackend, respond, type RawHandler } from '../helpers/raw-http.js';
import { TEST_SETTINGS, TestBalancer } from '../helpers/stack.js';

const noHealth = { enabled: false, path: '/health', intervalMs: 1000, fastIntervalMs: 100, timeoutMs: 500, rise: 2, fall: 3 };
// Retry budget and outlier ejection out of the way: these tests count single requests' attempts.
const resilience = {
  ...DEFAULT_RESILIENCE,
  outlier: { consecutiveFailures: 0 },
  breaker: undefined,
  retryBudget: { ratio: 1, minPerSecond: 1000, windowMs: 10_000 },
};

function spec(id: string, url: string): BackendSpec {
  const r = parseBackendSpec({ id, url });
  assert.ok(r.ok);
  return r.value;
}

/** Reads the whole request, then closes the connection without answering, after `ms`. */
const resetAfter =
  (ms: number): RawHandler =>
  (_req, c) =>
    setTimeout(() => c.socket.destroy(), ms);

/** Answers with the request's method and body. */
const echo: RawHandler = (req, c) => respond(c, 200, `${req.method} ${req.body.toString('latin1')}`);

describe('retries within the overall request deadline, and request bodies replayed from a bounded buffer', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  async function rig(handlers: RawHandler[], settings: Record<string, unknown>): Promise<{ lb: TestBalancer; backends: RawBackend[] }> {
    const backends = await Promise.all(handlers.map((h) => RawBackend.start(h)));
    const lb = await TestBalancer.start({
      backends: backends.map((b, i) => spec(`r${i + 1}`, b.url)),
      settings: { health: noHealth, maxRetries: 3, resilience, ...settings },
    });
    cleanup.push(() => lb.close(), ...backends.map((b) => () => b.close()));
    await lb.routable(handlers.length);
    return { lb, backends };
  }
  const attempts = (backends: RawBackend[]): number => backends.reduce((n, b) => n + b.requests.length, 0);

  for (const engine of ['raw', 'undici'] as const) {
    it(`${engine} engine: starts no retry once --request-timeout has passed, and a retry waits only for what is left (504)`, async (t: TestContext) => {
      // Deadlines are swept on a timer (a quarter of the shortest timeout here): the margins allow for it.
      const { lb, backends } = await rig([resetAfter(700), resetAfter(700), resetAfter(700), resetAfter(700)], {
        requestTimeoutMs: 1100,
        engine,
        // The short connect timeout makes the raw engine sweep deadlines every 100 ms. undici's own
        // head timeout runs on its coarse clock (a tick every half second, whatever the delay): the
        // overall deadline must not rest on it (a retry left 0.4 s once waited for its reset, 502).
        pool: { ...TEST_SETTINGS.pool, connectTimeoutMs: 400, headersTimeoutMs: 900 },
      });
      const started = performance.now();
      const r = await request(`${lb.url}/`, { dispatcher: testClient() });
      const body = await r.body.text();
      const tookMs = performance.now() - started;
      t.diagnostic(`${r.statusCode} after ${tookMs.toFixed(0)} ms, ${attempts(backends)} attempts: ${body}`);
      assert.equal(r.statusCode, 504);
      assert.match(body, /SWY_UPSTREAM_TIMEOUT/);
      // Attempt 1 is reset at 0.7 s; attempt 2 may wait only the 0.4 s left, so it gives up before its
      // own reset at 1.4 s.
      if (engine === 'undici') {
        // undici's head timeout (--upstream-timeout, 0.9 s here) can fire up to half a second early: the
        // first attempt may already time out (not retried). Either way no attempt outlives the deadline.
        assert.ok(attempts(backends) >= 1 && attempts(backends) <= 2);
        assert.ok(tookMs < 1390, `answered after ${tookMs.toFixed(0)} ms`);
      } else {
        assert.equal(attempts(backends), 2);
        assert.ok(tookMs >= 1080 && tookMs < 1390, `answered after ${tookMs.toFixed(0)} ms`);
      }
    });

    it(`${engine} engine: without an overall deadline the same outage uses every allowed retry (502)`, async () => {
      const { lb, backends } = await rig([resetAfter(100), resetAfter(100), resetAfter(100), resetAfter(100)], { requestTimeoutMs: 0, engine });
      const r = await request(`${lb.url}/`, { dispatcher: testClient() });
      assert.equal(r.statusCode, 502);
      assert.match(await r.body.text(), /SWY_UPSTREAM_RESET/);
      assert.equal(attempts(backends), 4, '1 attempt + --retries 3');
    });
  }

  // Body replay (a buffered body sent again after a reset) on every engine.
  for (const engine of ['raw', 'undici'] as const) {
    it(`${engine} engine: replays a small PUT body on another backend after a reset`, async () => {
      const { lb, backends } = await rig([resetAfter(0), resetAfter(0)], { retryBodyLimit: 1024, engine });
      backends[1]!.handler = echo;
      const payload = 'x'.repeat(700);
      const r = await request(`${lb.url}/things/1`, { method: 'PUT', body: payload, dispatcher: testClient() });
      assert.equal(r.statusCode, 200);
      assert.equal(await r.body.text(), `PUT ${payload}`);
      assert.equal(r.headers['x-backend'], 'r2');
      assert.equal(backends[0]!.requests[0]!.body.toString(), payload, 'the first backend had received the whole body');
      assert.equal(attempts(backends), 2);
    });

    it(`${engine} engine: replays a chunked PUT body too, sent on with its exact length once received in full`, async () => {
      const { lb, backends } = await rig([resetAfter(0), echo], { retryBodyLimit: 1024, engine });
      const r = await request(`${lb.url}/things/2`, { method: 'PUT', body: Readable.from(['part one, ', 'part two']), dispatcher: testClient() });
      assert.equal(r.statusCode, 200);
      assert.equal(await r.body.text(), 'PUT part one, part two');
      assert.equal(r.headers['x-backend'], 'r2');
      const replayed = backends[1]!.requests[0]!;
      assert.equal(replayed.chunked, false, 'a body the balancer holds in full goes with Content-Length');
      assert.equal(replayed.header('content-length'), String('part one, part two'.length));
    });

    it(`${engine} engine: does not replay a body larger than --retry-body-limit`, async () => {
      const { lb, backends } = await rig([resetAfter(0), echo], { retryBodyLimit: 1024, engine });
      const r = await request(`${lb.url}/things/3`, { method: 'PUT', body: 'y'.repeat(4096), dispatcher: testClient() });
      assert.equal(r.statusCode, 502);
      assert.match(await r.body.text(), /SWY_UPSTREAM_RESET/);
      assert.equal(attempts(backends), 1);
    });

    it(`${engine} engine: never retries a POST whose body was sent, however small`, async () => {
      const { lb, backends } = await rig([resetAfter(0), echo], { retryBodyLimit: 1024, engine });
      const r = await request(`${lb.url}/orders`, { method: 'POST', body: 'one order', dispatcher: testClient() });
      assert.equal(r.statusCode, 502);
      await r.body.text();
      assert.equal(attempts(backends), 1);
      assert.equal(backends[1]!.requests.length, 0);
    });

    it(`${engine} engine: with --retry-body-limit 0 a sent PUT body is never replayed`, async () => {
      const { lb, backends } = await rig([resetAfter(0), echo], { retryBodyLimit: 0, engine });
      const r = await request(`${lb.url}/things/4`, { method: 'PUT', body: 'z', dispatcher: testClient() });
      assert.equal(r.statusCode, 502);
      await r.body.text();
      assert.equal(attempts(backends), 1);
    });

    it(`${engine} engine: replays a kept body on --retry-on-status as well`, async () => {
      const fail503: RawHandler = (_req, c) => respond(c, 503, 'busy');
      const { lb, backends } = await rig([fail503, echo], { retryBodyLimit: 1024, retryOnStatus: [503], engine });
      const r = await request(`${lb.url}/things/5`, { method: 'PUT', body: 'status retry', dispatcher: testClient() });
      assert.equal(r.statusCode, 200);
      assert.equal(await r.body.text(), 'PUT status retry');
      assert.equal(attempts(backends), 2);
    });
  }

  for (const engine of ['raw', 'undici'] as const) {
    it(`${engine} engine: --retry-on-status sends a GET on to another backend and drops the first answer`, async () => {
      const fail503: RawHandler = (_req, c) => respond(c, 503, 'busy');
      const { lb, backends } = await rig([fail503, echo], { engine, retryOnStatus: [503], explain: true });
      const r = await request(`${lb.url}/thing`, { dispatcher: testClient() });
      assert.equal(r.statusCode, 200);
      assert.equal(await r.body.text(), 'GET ');
      assert.equal(attempts(backends), 2);
      assert.match(String(r.headers['x-lb-decision']), /tried=r1:status-503/);
    });

    it(`${engine} engine: --retry-on-status passes the answer on when no other backend is left`, async () => {
      const fail503: RawHandler = (_req, c) => respond(c, 503, 'busy');
      const { lb, backends } = await rig([fail503], { engine, retryOnStatus: [503] });
      const r = await request(`${lb.url}/thing`, { dispatcher: testClient() });
      assert.equal(r.statusCode, 503);
      assert.equal(await r.body.text(), 'busy');
      assert.equal(attempts(backends), 1);
    });
  }
});
