import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
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
    // The next request that lands on e2 is refused, retried on e3, and the decision says so.
    const retried = await get(`${lb.url}/`);
    assert.equal(retried.status, 200);
    assert.match(String(retried.headers['x-lb-decision']), /picked=e[13]; attempt=2; candidates=e1,e3; tried=e2:SWY_UPSTREAM_REFUSED$/);
    await waitFor('e2 to be unhealthy', () => lb.lb.upstreams.get('e2')!.health === 'unhealthy', 3000);
    for (let i = 0; i < 4; i++) {
      const r = await get(`${lb.url}/`);
      assert.match(String(r.headers['x-lb-decision']), /candidates=e1,e3; skipped=e2:unhealthy$/);
    }
  });

  it('explains a 503 too, and is absent unless asked for', async () => {
    const b = await TestBackend.start('x1');
    const lb = await TestBalancer.start({ backends: [b.spec({ state: 'draining' })], settings: { explainHeader: 'x-lb-explain' } });
    cleanup.push(() => lb.close(), () => b.close());
    await waitFor('the health check', () => lb.lb.upstreams.get('x1')!.health === 'healthy');
    const plain = await get(`${lb.url}/`);
    assert.equal(plain.status, 503);
    assert.equal(plain.headers['x-lb-decision'], undefined);
    const asked = await get(`${lb.url}/`, { headers: { 'x-lb-explain': '1' } });
    assert.equal(asked.status, 503);
    assert.equal(asked.headers['x-lb-decision'], 'strategy=round-robin; picked=none; attempt=1; candidates=none; skipped=x1:draining');
  });
});
