import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { get, json, type Reply } from '../helpers/http.js';
import { SETUP_NAMES, SETUPS, TestBackend, TestBalancer } from '../helpers/stack.js';

/** A deny list honoured through a trusted proxy only; an allow list; nothing refused is forwarded. */
describe('client rules on every engine', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  for (const setup of SETUP_NAMES) {
    it(`${setup}: the forwarded client is judged only when the peer is a trusted proxy`, async () => {
      const backend = await TestBackend.start('b');
      cleanup.push(() => backend.close());
      const start = async (settings: Record<string, unknown>): Promise<TestBalancer> => {
        const t = await TestBalancer.start({ backends: [backend.spec()], settings: { ...SETUPS[setup], ...settings } });
        cleanup.push(() => t.close());
        await t.routable(1);
        return t;
      };
      const from = (t: TestBalancer, xff?: string): Promise<Reply> => get(`${t.url}/echo`, xff === undefined ? {} : { headers: { 'x-forwarded-for': xff } });

      // The test client is 127.0.0.1: a trusted proxy for this balancer.
      const behindProxy = await start({ trustedProxies: ['127.0.0.1/32', '::1'], denyClients: ['203.0.113.0/24'] });
      const before = backend.state.requests;
      const denied = await from(behindProxy, '203.0.113.5');
      assert.equal(denied.status, 403);
      assert.equal(json<{ error: { code: string } }>(denied).error.code, 'SWY_FORBIDDEN');
      // Prepending addresses does not help: the proxy's own entry is the rightmost.
      assert.equal((await from(behindProxy, '198.51.100.1, 203.0.113.5')).status, 403);
      assert.equal(backend.state.requests, before, 'nothing refused reached the backend');
      const served = await from(behindProxy, '198.51.100.1');
      assert.equal(served.status, 200);
      assert.equal(json<{ headers: Record<string, string> }>(served).headers['x-forwarded-for'], '198.51.100.1, 127.0.0.1');

      // Not behind a trusted proxy: the header is the client's own claim, dropped; the peer is judged.
      const direct = await start({ denyClients: ['203.0.113.0/24'] });
      const claimed = await from(direct, '203.0.113.5');
      assert.equal(claimed.status, 200);
      assert.equal(json<{ headers: Record<string, string> }>(claimed).headers['x-forwarded-for'], '127.0.0.1');
      const deniedPeer = await start({ denyClients: ['127.0.0.0/8'] });
      assert.equal((await from(deniedPeer)).status, 403);

      // An allow list: only its clients.
      const allowOnly = await start({ trustedProxies: ['127.0.0.1'], allowClients: ['198.51.100.0/24'] });
      assert.equal((await from(allowOnly, '198.51.100.20')).status, 200);
      assert.equal((await from(allowOnly, '203.0.113.5')).status, 403);
      assert.equal((await from(allowOnly)).status, 403, 'the proxy itself is not on the allow list');
    });
  }
});
