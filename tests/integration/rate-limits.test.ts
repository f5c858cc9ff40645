import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { parseRateLimitKey, parseRateLimitRules } from '../../balancer/edge/rate-limit-rules.js';
import { get, json, testClient, type Reply } from '../helpers/http.js';
import { runSwitchyard } from '../helpers/processes.js';
import { SETUP_NAMES, SETUPS, TestBackend, TestBalancer } from '../helpers/stack.js';

/** Rate limits within one balancer: exact, on every engine; nothing refused reaches a backend. */
describe('rate limits on every engine', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  for (const setup of SETUP_NAMES) {
    it(`${setup}: a burst of 10 is allowed, the rest answered 429 with Retry-After and RateLimit fields`, async () => {
      const backend = await TestBackend.start('b');
      cleanup.push(() => backend.close());
      const t = await TestBalancer.start({
        backends: [backend.spec()],
        settings: {
          ...SETUPS[setup],
          trustedProxies: ['127.0.0.1'],
          // 5 a minute: nothing refills during the test.
          rateLimits: { rules: parseRateLimitRules(['/=5/m burst 10', '/free=1000000/s']), key: parseRateLimitKey('ip'), maxKeys: 1000 },
        },
      });
      cleanup.push(() => t.close());
      await t.routable(1);
      const client = testClient(40);
      cleanup.push(() => client.close());
      const before = backend.state.requests;

      // 30 at once from one client: exactly the burst gets through.
      const replies: Reply[] = await Promise.all(Array.from({ length: 30 }, () => get(`${t.url}/`, { dispatcher: client })));
      const statuses = replies.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 10, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 429).length, 20);
      assert.equal(backend.state.requests - before, 10, 'nothing refused reached the backend');
      const refused = replies.find((r) => r.status === 429)!;
      assert.equal(json<{ error: { code: string } }>(refused).error.code, 'SWY_RATE_LIMITED');
      assert.ok(Number(refused.headers['retry-after']) >= 1, `Retry-After ${String(refused.headers['retry-after'])}`);
      assert.equal(refused.headers['ratelimit-policy'], '"/";q=10;w=120');
      assert.match(String(refused.headers.ratelimit), /^"\/";r=0;t=\d+$/);

      // The refused client's connection still serves it once another rule applies; other clients have their own buckets.
      assert.equal((await get(`${t.url}/free`, { dispatcher: client })).status, 200);
      const other = await get(`${t.url}/`, { dispatcher: client, headers: { 'x-forwarded-for': '198.51.100.7' } });
      assert.equal(other.status, 200, 'a client behind the trusted proxy is counted on its own');
    });
  }

  it('a bad rule or key fails the start, naming the flag', async () => {
    const rule = await runSwitchyard(['balancer', '--port', '0', '--admin-port', '0', '--rate-limits', '/=0/s']);
    assert.equal(rule.code, 2, rule.stderr);
    assert.match(rule.stderr, /invalid value for --rate-limits: '\/=0\/s': the rate must be from 1/);
    const key = await runSwitchyard(['balancer', '--port', '0', '--admin-port', '0', '--rate-limits', '/=1/s', '--rate-limit-key', 'user']);
    assert.equal(key.code, 2, key.stderr);
    assert.match(key.stderr, /invalid value for --rate-limit-key: 'user' is not ip, header:<name> or cookie:<name>/);
  });

  it('shows the limits and replaces them live on the admin API', async () => {
    const backend = await TestBackend.start('b');
    cleanup.push(() => backend.close());
    const t = await TestBalancer.start({
      backends: [backend.spec()],
      settings: { rateLimits: { rules: parseRateLimitRules(['/=1/h burst 1']), key: parseRateLimitKey('ip'), maxKeys: 1000 } },
    });
    cleanup.push(() => t.close());
    await t.routable(1);
    assert.equal((await get(`${t.url}/`)).status, 200);
    assert.equal((await get(`${t.url}/`)).status, 429);
    const shown = json<{ enabled: boolean; key: string; rules: { rule: string; allowed: number; refused: number }[] }>(await get(`${t.adminUrl}/rate-limits`));
    assert.deepEqual(
      shown.rules.map((r) => [r.rule, r.allowed, r.refused]),
      [['/=1/h burst 1', 1, 1]],
    );
    const json_ = { 'content-type': 'application/json' };
    const bad = await get(`${t.adminUrl}/rate-limits`, { method: 'PUT', headers: json_, body: JSON.stringify({ rules: ['/=fast'] }) });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /not <path prefix>=<n>/);
    const put = await get(`${t.adminUrl}/rate-limits`, { method: 'PUT', headers: json_, body: JSON.stringify({ rules: ['/=1000/s burst 1000'] }) });
    assert.equal(put.status, 200, put.body);
    assert.equal((await get(`${t.url}/`)).status, 200, 'the new rule applies at once');
  });
});
