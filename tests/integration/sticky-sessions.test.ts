import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createStrategy } from '../../balancer/strategies/index.js';
import type { Upstream } from '../../balancer/upstream.js';
import { get } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const cookieOf = (setCookie: string | string[] | undefined): string | undefined => {
  const v = Array.isArray(setCookie) ? setCookie.find((c) => c.startsWith('swy=')) : setCookie;
  return v?.split(';')[0];
};

describe('sticky sessions', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('pins a client to the backend that first served it, and re-pins when that backend leaves', async () => {
    const backends = await Promise.all(['s1', 's2', 's3'].map((id) => TestBackend.start(id)));
    const lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()) });
    lb.lb.setStrategy(createStrategy<Upstream>('round-robin', { sticky: { cookieName: 'swy', secret: 'a-secret-of-sixteen-chars' } }));
    cleanup.push(() => lb.close(), ...backends.map((b) => () => b.close()));
    await lb.routable(3);

    const first = await get(`${lb.url}/`);
    const pinnedTo = String(first.headers['x-backend']);
    const cookie = cookieOf(first.headers['set-cookie']);
    assert.ok(cookie, 'the first answer sets the cookie');
    assert.ok(!cookie!.includes(pinnedTo), 'the cookie does not reveal the backend id');
    for (let i = 0; i < 20; i++) {
      const r = await get(`${lb.url}/`, { headers: { cookie: cookie! } });
      assert.equal(r.headers['x-backend'], pinnedTo, 'round robin is overridden by the pin');
      assert.equal(r.headers['set-cookie'], undefined, 'no new cookie while the pin holds');
    }
    const forged = await get(`${lb.url}/`, { headers: { cookie: 'swy=s2' } });
    assert.ok(cookieOf(forged.headers['set-cookie']), 'an unknown cookie value is replaced, not trusted');

    await lb.registry.setState(pinnedTo, 'draining');
    await waitFor('the drain', () => !lb.lb.upstreams.get(pinnedTo)!.routable);
    const moved = await get(`${lb.url}/`, { headers: { cookie: cookie! } });
    assert.notEqual(moved.headers['x-backend'], pinnedTo, 'a draining backend gets no pinned client');
    const repinned = cookieOf(moved.headers['set-cookie']);
    assert.ok(repinned && repinned !== cookie, 'the client is re-pinned');
    for (let i = 0; i < 5; i++) assert.equal((await get(`${lb.url}/`, { headers: { cookie: repinned! } })).headers['x-backend'], moved.headers['x-backend']);
  });
});
