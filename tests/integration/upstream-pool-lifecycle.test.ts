import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { spec } from '../helpers/hostile.js';
import { UndiciPools } from '../../balancer/forward/undici/undici-pools.js';
import { Upstream } from '../../balancer/upstream.js';

const POOL = { connections: 4, connectTimeoutMs: 1000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, idleTimeoutMs: 60_000 };

/**
 * The undici engine's pool for a backend is made on its first request. A
 * request may pick a backend just before the registry removes it (forget) and
 * use it only after: that request must still be served, and the pool made for
 * it must not outlive it (a pool per removed backend would leak sockets with
 * churn).
 */
describe('undici engine pool lifecycle (UndiciPools)', () => {
  let server: Server;
  let url: string;
  let open = 0;

  before(async () => {
    server = createServer((_req, res) => res.end('ok'));
    server.on('connection', (s) => {
      open++;
      s.on('close', () => open--);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('makes no pool for a backend never used, and closing it then is free', async () => {
    const pools = new UndiciPools(POOL);
    const u = new Upstream(spec('never', url), Date.now());
    pools.forget(u);
    await pools.close();
    assert.equal(open, 0);
  });

  it('serves a request first dispatched after forget(), then closes the pool it made', async () => {
    const pools = new UndiciPools(POOL);
    const u = new Upstream(spec('late', url), Date.now());
    pools.forget(u);
    const pool = pools.get(u);
    const res = await pool.request({ path: '/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'ok');
    // The pool closes itself once the request is done: its socket goes, and it takes no more.
    assert.equal(pool.closed, true, 'the late pool was not closed');
    for (let i = 0; i < 200 && open > 0; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(open, 0, 'the late pool left a connection open');
    await assert.rejects(pool.request({ path: '/', method: 'GET' }), /closed|destroyed/i);
  });

  it('keeps serving through a pool made before forget() until its requests finish', async () => {
    const pools = new UndiciPools(POOL);
    const u = new Upstream(spec('used', url), Date.now());
    const first = await pools.get(u).request({ path: '/', method: 'GET' });
    await first.body.text();
    const before = pools.get(u);
    pools.forget(u);
    await pools.close();
    assert.equal(before.closed, true, 'the pool in use closed once its request finished');
    // A request sent after forget() (picked just before) gets a pool of its own, served then closed.
    const late = pools.get(u);
    assert.notEqual(late, before);
    const res = await late.request({ path: '/', method: 'GET' });
    await res.body.text();
    assert.equal(res.statusCode, 200);
    await pools.close();
    assert.equal(late.closed, true, 'the late pool closes too');
  });
});
