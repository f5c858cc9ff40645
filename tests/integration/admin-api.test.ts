import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { get, json, loadLoop } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'correct-horse-battery';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const bearer = { authorization: `Bearer ${TOKEN}` };

describe('the admin API', () => {
  let backends: TestBackend[];
  let lb: TestBalancer;
  before(async () => {
    backends = await Promise.all(['a1', 'a2', 'a3'].map((id) => TestBackend.start(id)));
    lb = await TestBalancer.start({ backends: [backends[0]!.spec(), backends[1]!.spec()], adminToken: TOKEN });
    await lb.routable(2);
  });
  after(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('answers /healthz and /readyz', async () => {
    assert.equal((await get(`${lb.adminUrl}/healthz`)).status, 200);
    const ready = await get(`${lb.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(json<{ routableBackends: number }>(ready).routableBackends, 2);
  });

  it('lists backends with health, state and counters', async () => {
    await get(`${lb.url}/`);
    const list = json<{ backends: { id: string; health: string; state: string; routable: boolean; requests: number; lastCheck: { outcome: string } }[] }>(
      await get(`${lb.adminUrl}/backends`, { headers: bearer }),
    );
    assert.deepEqual(
      list.backends.map((b) => [b.id, b.health, b.state, b.routable]),
      [
        ['a1', 'healthy', 'active', true],
        ['a2', 'healthy', 'active', true],
      ],
    );
    assert.equal(list.backends[0]!.lastCheck.outcome, 'pass');
    assert.equal(list.backends.reduce((n, b) => n + b.requests, 0) >= 1, true);
  });

  it('refuses changes without the bearer token', async () => {
    const r = await get(`${lb.adminUrl}/backends/a1/drain`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="switchyard-admin"');
    const wrong = await get(`${lb.adminUrl}/backends/a1`, { method: 'DELETE', headers: { authorization: 'Bearer nope-nope-nope' } });
    assert.equal(wrong.status, 401);
    assert.equal(lb.lb.upstreams.routable.length, 2);
  });

  it('records a fault injected from outside in the event log (POST /events, marked injected), under the token, and refuses a bad one with 400', async () => {
    const body = JSON.stringify({ action: 'kill', target: 'a2', detail: 'SIGKILL by switchyard chaos' });
    assert.equal((await get(`${lb.adminUrl}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 401);
    const r = await get(`${lb.adminUrl}/events`, { method: 'POST', headers: auth, body });
    assert.equal(r.status, 201);
    const stats = json<{ events: { type: string; backendId?: string; detail?: string }[] }>(await get(`${lb.adminUrl}/stats`, { headers: bearer }));
    assert.deepEqual(stats.events.at(-1), { ...stats.events.at(-1), type: 'injected', backendId: 'a2', detail: 'kill: SIGKILL by switchyard chaos' });
    for (const bad of [{}, { action: '' }, { action: 'x'.repeat(65) }, { action: 'kill', target: 'a\nb' }, { action: 'kill', detail: 7 }]) {
      const b = await get(`${lb.adminUrl}/events`, { method: 'POST', headers: auth, body: JSON.stringify(bad) });
      assert.equal(b.status, 400, JSON.stringify(bad));
    }
    // Nothing changed for traffic: both backends still routable.
    assert.equal(lb.lb.upstreams.routable.length, 2);
  });

  it('registers a backend, which takes traffic once healthy', async () => {
    const r = await get(`${lb.adminUrl}/backends`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ id: 'a3', url: backends[2]!.url, weight: 2, labels: { zone: 'b' } }),
    });
    assert.equal(r.status, 201);
    await lb.routable(3);
    const again = await get(`${lb.adminUrl}/backends`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ id: 'a3', url: backends[2]!.url, weight: 2, labels: { zone: 'b' } }),
    });
    assert.equal(again.status, 200, 'registering again is idempotent');
    const spread = await loadLoop(`${lb.url}/`, 30, 1);
    assert.equal(spread.byBackend.get('a3'), 10);
  });

  it('drains a backend: no new requests, the in-flight one finishes', async () => {
    const slow = get(`${lb.url}/delay/400`); // round robin: lands on one of three
    await waitFor('a request in flight', () => lb.lb.inFlight === 1);
    const busy = lb.lb.upstreams.all.find((u) => u.inFlight === 1)!;
    const r = await get(`${lb.adminUrl}/backends/${busy.id}/drain`, { method: 'POST', headers: auth });
    assert.equal(r.status, 200);
    assert.equal(busy.spec.state, 'draining');
    assert.equal(busy.routable, false);
    const during = await loadLoop(`${lb.url}/`, 20, 2);
    assert.equal(during.failed, 0);
    assert.equal(during.byBackend.get(busy.id), undefined, 'a draining backend gets no new request');
    assert.equal((await slow).status, 200, 'the in-flight request finished');
    const back = await get(`${lb.adminUrl}/backends/${busy.id}/activate`, { method: 'POST', headers: auth });
    assert.equal(back.status, 200);
    await lb.routable(3);
  });

  it('deregisters a backend and answers 404 for unknown ids', async () => {
    assert.equal((await get(`${lb.adminUrl}/backends/a3`, { method: 'DELETE', headers: auth })).status, 204);
    await lb.routable(2);
    assert.equal((await get(`${lb.adminUrl}/backends/a3`, { method: 'DELETE', headers: auth })).status, 404);
    assert.equal((await get(`${lb.adminUrl}/backends/zzz/drain`, { method: 'POST', headers: auth })).status, 404);
    assert.equal((await get(`${lb.adminUrl}/backends/zzz`, { headers: bearer })).status, 404);
  });

  it('switches the strategy live with PUT /strategy, and refuses an unknown name or option with 400, keeping the old one', async () => {
    const put = (body: unknown, headers: Record<string, string> = auth) =>
      get(`${lb.adminUrl}/strategy`, { method: 'PUT', headers, body: JSON.stringify(body) });
    assert.equal((await put({ name: 'random' }, { 'content-type': 'application/json' })).status, 401);
    const unknown = await put({ name: 'fastest' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body, /SWY_ADMIN_BAD_REQUEST/);
    assert.match(unknown.body, /fastest/);
    assert.match(unknown.body, /round-robin/, 'the answer lists the names it knows');
    const badOption = await put({ name: 'consistent-hash', options: { hashKey: 'moon' } });
    assert.equal(badOption.status, 400);
    assert.equal(
      json<{ strategy: string }>(await get(`${lb.adminUrl}/strategy`, { headers: bearer })).strategy,
      'round-robin',
      'a refused change leaves the strategy as it was',
    );
    const ok = await put({ name: 'least-request' });
    assert.equal(ok.status, 200);
    assert.equal(json<{ strategy: string }>(await get(`${lb.adminUrl}/strategy`, { headers: bearer })).strategy, 'least-request');
    assert.equal((await put({ name: 'round-robin' })).status, 200);
  });
});
