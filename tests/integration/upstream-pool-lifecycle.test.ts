import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { spec } from '../helpers/hostile.js';
import { Upstream } from '../../balancer/upstream.js';

const POOL = { connections: 4, connectTimeoutMs: 1000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000 };

/**
 * An Upstream's undici pool is made on its first request. A request may pick a
 * backend just before the registry removes it (closePool) and use it only
 * after: that request must still be served, and the pool made for it must not
 * outlive it (a pool per removed backend would leak sockets with churn).
 */
describe('Upstream pool lifecycle', () => {
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
    const u = new Upstream(spec('never', url), POOL, Date.now());
    await u.closePool();
    assert.equal(open, 0);
  });

  it('serves a request first dispatched after closePool(), then closes the pool it made', async () => {
    const u = new Upstream(spec('late', url), POOL, Date.now());
    await u.closePool();
    const pool = u.pool;
    const res = await pool.request({ path: '/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'ok');
    // The pool closes itself once the request is done: its socket goes, and it takes no more.
    assert.equal(pool.closed, true, 'the late pool was not closed');
    for (let i = 0; i < 200 && open > 0; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(open, 0, 'the late pool left a connection open');
    await assert.rejects(pool.request({ path: '/', method: 'GET' }), /closed|destroyed/i);
  });

  it('keeps serving through a pool made before closePool() until its requests finish', async () => {
    const u = new Upstream(spec('used', url), POOL, Date.now());
    const first = await u.pool.request({ path: '/', method: 'GET' });
    await first.body.text();
    await u.closePool();
    assert.equal(u.pool.closed, true, 'the same pool, closed: no second pool is made');
  });
});
