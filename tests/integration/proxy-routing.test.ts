import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { get, json, testClient } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';

for (const engine of ['undici', 'raw'] as const)
  describe(`proxying over three backends (${engine} engine)`, () => {
    let backends: TestBackend[];
    let lb: TestBalancer;
    const client = testClient();

    before(async () => {
      backends = await Promise.all(['b1', 'b2', 'b3'].map((id) => TestBackend.start(id)));
      lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()), settings: { engine } });
      await lb.routable(3);
    });
    after(async () => {
      await client.close();
      await lb.close();
      await Promise.all(backends.map((b) => b.close()));
    });

    it('spreads 300 sequential GETs exactly 100/100/100 with round robin', async () => {
      const counts = new Map<string, number>();
      for (let i = 0; i < 300; i++) {
        const r = await get(`${lb.url}/`, { dispatcher: client });
        assert.equal(r.status, 200);
        const id = json<{ id: string }>(r).id;
        assert.equal(r.headers['x-backend'], id, 'X-Backend names the backend that answered');
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      assert.deepEqual(Object.fromEntries([...counts].sort()), { b1: 100, b2: 100, b3: 100 });
    });

    it('sends X-Forwarded-For/-Proto/-Host and an X-Request-Id, and echoes the id', async () => {
      const r = await get(`${lb.url}/echo?q=1`, { dispatcher: client, headers: { host: 'shop.example', 'x-forwarded-for': '6.6.6.6' } });
      const seen = json<{ headers: Record<string, string>; url: string }>(r);
      assert.equal(seen.url, '/echo?q=1');
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted client cannot forge X-Forwarded-For');
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
      assert.equal(seen.headers['x-forwarded-host'], 'shop.example');
      assert.equal(seen.headers.host, 'shop.example');
      assert.match(seen.headers['x-request-id'] ?? '', /^[0-9a-f]{8}-[0-9a-z]+$/);
      assert.equal(r.headers['x-request-id'], seen.headers['x-request-id']);
      const kept = await get(`${lb.url}/echo`, { dispatcher: client, headers: { 'x-request-id': 'trace-42' } });
      assert.equal(json<{ headers: Record<string, string> }>(kept).headers['x-request-id'], 'trace-42');
      assert.equal(kept.headers['x-request-id'], 'trace-42');
    });

    it('forwards request bodies intact, fixed-length and chunked', async () => {
      const body = 'x'.repeat(300_000);
      const r = await get(`${lb.url}/echo`, { dispatcher: client, method: 'POST', body, headers: { 'content-type': 'text/plain' } });
      assert.equal(json<{ bodyBytes: number; method: string }>(r).bodyBytes, 300_000);
      const { request } = await import('undici');
      async function* chunks(): AsyncGenerator<Buffer> {
        for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, 65 + i);
      }
      const { Readable } = await import('node:stream');
      const res = await request(`${lb.url}/echo`, { method: 'PUT', body: Readable.from(chunks()), dispatcher: client });
      const seen = (await res.body.json()) as { bodyBytes: number; bodySha1: string };
      assert.equal(seen.bodyBytes, 10_000);
      const { createHash } = await import('node:crypto');
      const expected = createHash('sha1');
      for (let i = 0; i < 10; i++) expected.update(Buffer.alloc(1000, 65 + i));
      assert.equal(seen.bodySha1, expected.digest('hex'));
    });

    it('keeps duplicate response headers and HEAD answers without a body', async () => {
      const head = await get(`${lb.url}/`, { dispatcher: client, method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.ok(Number(head.headers['content-length']) > 0);
    });

    it('can hide X-Backend', async () => {
      const quiet = await TestBalancer.start({ backends: [backends[0]!.spec()], settings: { backendHeader: false, engine } });
      try {
        await quiet.routable(1);
        const r = await get(`${quiet.url}/`);
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-backend'], undefined);
      } finally {
        await quiet.close();
      }
    });
  });
