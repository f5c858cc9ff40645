import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import type { Upstream } from '../../balancer/upstream.js';
import { createStrategy } from '../../balancer/strategies/index.js';
import { get } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

describe('X-LB-Decision', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup) await c();
  });

  it('with --explain, shows a killed backend skipped with its reason on the next requests', async () => {
    const backends = await Promise.all(['e1', 'e2', 'e3'].map((id) => TestBackend.start(id)));
    const lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()), settings: { explain: true } });
    cleanup.push(() => lb.close(), ...backends.map((b) => () => b.close()));
    await lb.routable(3);
    const first = await get(`${lb.url}/`);
    assert.equal(first.headers['x-lb-decision'], 'strategy=round-robin; picked=e1; attempt=1; candidates=e1,e2,e3');
    await backends[1]!.close();
    // The next request that lands on e2 is refused, retried on e3, and the decision says so; on a
    // loaded machine a health check (every 250 ms here) may see the refusal first, and the
    // decision then says e2 was skipped as unhealthy. The refusal also asks for a check at once,
    // which can mark e2 unhealthy between the two attempts: then the retry says both. Whichever
    // came first, the reason is shown.
    const retried = await get(`${lb.url}/`);
    assert.equal(retried.status, 200);
    assert.match(
      String(retried.headers['x-lb-decision']),
      /picked=e[13]; attempt=2; candidates=e1,e3; (skipped=e2:unhealthy; )?tried=e2:SWY_UPSTREAM_REFUSED$|picked=e[13]; attempt=1; candidates=e1,e3; skipped=e2:unhealthy$/,
    );
    await waitFor('e2 to be unhealthy', () => lb.lb.upstreams.get('e2')!.health === 'unhealthy', 3000);
    for (let i = 0; i < 4; i++) {
      const r = await get(`${lb.url}/`);
      assert.match(String(r.headers['x-lb-decision']), /candidates=e1,e3; skipped=e2:unhealthy$/);
    }
  });

  it('explains a 503 too, and is absent unless asked for', async () => {
    const b = await TestBackend.start('x1');
    const lb = await TestBalancer.start({ backends: [b.spec({ state: 'draining' })], settings: { explainHeader: 'x-lb-explain' } });
    cleanup.push(
      () => lb.close(),
      () => b.close(),
    );
    // readiness: a draining backend never becomes routable; its first passed check is the state this test needs.
    await waitFor('the health check', () => lb.lb.upstreams.get('x1')!.health === 'healthy');
    const plain = await get(`${lb.url}/`);
    assert.equal(plain.status, 503);
    assert.equal(plain.headers['x-lb-decision'], undefined);
    const asked = await get(`${lb.url}/`, { headers: { 'x-lb-explain': '1' } });
    assert.equal(asked.status, 503);
    assert.equal(asked.headers['x-lb-decision'], 'strategy=round-robin; picked=none; attempt=1; candidates=none; skipped=x1:draining');
  });

  it('names the backend consistent-hash passed over for its bounded load', async () => {
    const backends = await Promise.all(['h1', 'h2', 'h3'].map((id) => TestBackend.start(id)));
    const lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()), settings: { explain: true } });
    cleanup.push(() => lb.close(), ...backends.map((b) => () => b.close()));
    await lb.routable(3);
    lb.lb.setStrategy(createStrategy<Upstream>('consistent-hash', { hashKey: 'header:x-user', hashBalanceFactor: 1 }));
    const user = { 'x-user': 'alice' };
    const home = String((await get(`${lb.url}/`, { headers: user })).headers['x-backend']);
    const plain = await get(`${lb.url}/`, { headers: user });
    assert.equal(plain.headers['x-backend'], home, 'a key keeps its backend while loads are even');
    assert.doesNotMatch(String(plain.headers['x-lb-decision']), /over-bounded-load/);
    // Two slow requests for alice hold her backend at its bound (c = 1: ceil((2 + 1) / 3) = 1 in flight).
    const slow = [0, 1].map(() => request(`${lb.url}/delay/1500`, { headers: user }).then((r) => r.body.text()));
    await waitFor('alice`s requests in flight', () => lb.lb.upstreams.get(home)!.inFlight >= 1, 3000, 5);
    const spilled = await get(`${lb.url}/`, { headers: user });
    assert.notEqual(spilled.headers['x-backend'], home, 'over its bound, the key goes to the next backend on the ring');
    assert.match(
      String(spilled.headers['x-lb-decision']),
      new RegExp(`strategy=consistent-hash; picked=${String(spilled.headers['x-backend'])}; .*skipped=(.*,)?${home}:over-bounded-load`),
    );
    await Promise.all(slow);
  });
});
