import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { parseRateLimitKey, parseRateLimitRules } from '../../balancer/edge/rate-limit-rules.js';
import { get, json, testClient } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-http.js';
import { SETUP_NAMES, SETUPS, TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

interface BansReply {
  readonly enabled: boolean;
  readonly bans: readonly { readonly client: string; readonly reason: string; readonly secondsLeft: number }[];
}

/** Automatic bans: applied after N refusals in a window, answered 403 until they expire, listed and lifted on the admin API. */
describe('automatic bans on every engine', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  for (const setup of SETUP_NAMES) {
    it(`${setup}: rate-limited or malformed requests ban a client for the ban's duration, then it is served again`, async () => {
      const backend = await TestBackend.start('b');
      cleanup.push(() => backend.close());
      const t = await TestBalancer.start({
        backends: [backend.spec()],
        settings: {
          ...SETUPS[setup],
          trustedProxies: ['127.0.0.1'],
          rateLimits: { rules: parseRateLimitRules(['/limited=1/h burst 2']), key: parseRateLimitKey('ip'), maxKeys: 1000 },
          bans: { after: 3, windowMs: 10_000, durationMs: 1500, maxClients: 1000 },
        },
      });
      cleanup.push(() => t.close());
      await t.routable(1);
      const client = testClient(4);
      cleanup.push(() => client.close());
      const as = (ip: string, path = '/'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> =>
        get(`${t.url}${path}`, { dispatcher: client, headers: { 'x-forwarded-for': ip } });

      // Rate limited three times: banned.
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await as('198.51.100.1', '/limited')).status);
      assert.deepEqual(statuses, [200, 200, 429, 429, 429]);
      const banned = await as('198.51.100.1', '/anything');
      const bannedAt = Date.now();
      assert.equal(banned.status, 403);
      assert.equal(json<{ error: { code: string } }>(banned).error.code, 'SWY_BANNED');
      assert.ok(Number(banned.headers['retry-after']) >= 1 && Number(banned.headers['retry-after']) <= 2, String(banned.headers['retry-after']));
      assert.equal((await as('198.51.100.2')).status, 200, 'other clients are served');
      const listed = json<BansReply>(await get(`${t.adminUrl}/bans`));
      assert.deepEqual(
        listed.bans.map((b) => [b.client, b.reason]),
        [['198.51.100.1', 'SWY_RATE_LIMITED']],
      );

      // It ends on time.
      await waitFor('the ban to end', async () => (await as('198.51.100.1')).status === 200, 5000, 50);
      const lasted = Date.now() - bannedAt;
      assert.ok(lasted >= 1300 && lasted < 2500, `the ban lasted ${lasted} ms (duration 1500 ms)`);

      // Malformed requests count too (two Host fields: 400), from the peer itself; the admin API lifts the ban.
      const raw = await RawClient.connect(t.port);
      cleanup.push(async () => raw.destroy());
      for (let i = 0; i < 3; i++) {
        const c = await RawClient.connect(t.port);
        c.send('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
        assert.equal((await c.response()).status, 400);
        c.destroy();
      }
      raw.send('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      assert.equal((await raw.response()).status, 403, 'the peer is banned now');
      const lift = await get(`${t.adminUrl}/bans/127.0.0.1`, { method: 'DELETE', headers: { 'content-type': 'application/json' } });
      assert.equal(lift.status, 204);
      assert.equal((await get(`${t.url}/`, { dispatcher: client })).status, 200);
      assert.equal((await get(`${t.adminUrl}/bans/127.0.0.1`, { method: 'DELETE', headers: { 'content-type': 'application/json' } })).status, 404);
    });
  }
});
