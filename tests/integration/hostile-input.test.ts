import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { echo, echoed, ENGINES, HostileRig, spec } from '../helpers/hostile.js';
import { RawClient, type RawResponse } from '../helpers/raw-http.js';
import { SETUPS, TEST_SETTINGS, TestBalancer, type SetupName } from '../helpers/stack.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { TlsListener } from '../../balancer/tls/tls-listener.js';
import { silentLogger } from '../../common/logger.js';
import { TestCa } from '../helpers/tls-certs.js';

/**
 * The hostile-input suite: every case runs on every engine. Raw client
 * sockets on one side, a recording (and, for the response side, hostile)
 * backend on the other. Each case checks what the client got and what the
 * backend received: never more requests than the client sent, never a body
 * without its framing, never one client's response on another's connection,
 * never a backend blamed for what a client did. docs/security.md lists the
 * rules these cases hold the engines to.
 */

interface Ctx {
  readonly engine: SetupName;
  readonly rig: HostileRig;
  client(): Promise<RawClient>;
  /** One request on a new connection; its response, or null when the connection closed without one. */
  once(bytes: string | Buffer): Promise<RawResponse | null>;
}

type Case = readonly [name: string, run: (ctx: Ctx) => Promise<void>];

const okOrNull = async (c: RawClient, opts: { noBody?: boolean; timeoutMs?: number } = {}): Promise<RawResponse | null> => {
  try {
    return await c.response(opts);
  } catch {
    return null;
  }
};

/** Backend requests recorded during `fn`. */
async function forwardedDuring(ctx: Ctx, fn: () => Promise<void>): Promise<number> {
  const before = ctx.rig.backend.requests.length;
  await fn();
  await sleep(50);
  return ctx.rig.backend.requests.length - before;
}

/** The victim's own request, on its own connection, gets its own answer. */
async function victimGetsOwnResponse(ctx: Ctx): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const r = await ctx.once(`GET /victim-${i} HTTP/1.1\r\nHost: t\r\n\r\n`);
    assert.ok(r, 'the victim got a response');
    assert.equal(r.status, 200);
    assert.equal(echo(r.body).target, `/victim-${i}`, 'the victim got its own response, not the attacker’s');
  }
}

const CASES: readonly Case[] = [
  // --- finding 1: Connection naming framing fields (response poisoning) ---------------
  [
    'refuses Connection naming Content-Length, and the next client still gets its own response',
    async (ctx) => {
      const smuggled = 'GET /poison HTTP/1.1\r\nHost: t\r\n\r\n';
      const n = await forwardedDuring(ctx, async () => {
        const r = await ctx.once(`POST /echo HTTP/1.1\r\nHost: t\r\nConnection: Content-Length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
        assert.equal(r?.status, 400);
      });
      assert.equal(n, 0, 'nothing reached the backend');
      await victimGetsOwnResponse(ctx);
      assert.ok(!ctx.rig.backend.requests.some((q) => q.target === '/poison'), 'the smuggled request never reached the backend');
    },
  ],
  [
    'refuses Connection naming Transfer-Encoding with a chunked body',
    async (ctx) => {
      const smuggled = 'GET /poison HTTP/1.1\r\nHost: t\r\n\r\n';
      const n = await forwardedDuring(ctx, async () => {
        const r = await ctx.once(
          `POST /echo HTTP/1.1\r\nHost: t\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
        );
        assert.equal(r?.status, 400);
      });
      assert.equal(n, 0);
      await victimGetsOwnResponse(ctx);
    },
  ],
  [
    'refuses Connection naming Host, Via, Forwarded, X-Forwarded-For, X-Real-IP or X-Request-Id',
    async (ctx) => {
      for (const token of ['host', 'Via', 'forwarded', 'X-Forwarded-For', 'x-forwarded-host', 'x-real-ip', 'X-Request-Id']) {
        const r = await ctx.once(`GET /echo HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, ${token}\r\n\r\n`);
        assert.equal(r?.status, 400, token);
      }
    },
  ],
  [
    'removes the fields a Connection header names, and Connection itself',
    async (ctx) => {
      const r = await ctx.once(
        'GET /echo HTTP/1.1\r\nHost: t\r\nConnection: x-hop, keep-alive\r\nX-Hop: 1\r\nX-Kept: 2\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\r\n',
      );
      const e = echo(r!.body);
      assert.deepEqual(echoed(e, 'x-hop'), []);
      assert.deepEqual(echoed(e, 'x-kept'), ['2']);
      assert.deepEqual(echoed(e, 'keep-alive'), []);
      assert.deepEqual(echoed(e, 'te'), []);
      assert.deepEqual(
        echoed(e, 'connection').filter((v) => /x-hop/i.test(v)),
        [],
      );
    },
  ],
  // --- finding 2: locally refused requests are not the backend's fault -----------------
  [
    'answers two Host headers with 400, never counting it against the backend',
    async (ctx) => {
      const before = ctx.rig.blame();
      const n = await forwardedDuring(ctx, async () => {
        for (let i = 0; i < 8; i++) {
          const r = await ctx.once('GET /echo HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n');
          assert.equal(r?.status, 400);
          assert.match(r!.body.toString(), /SWY_BAD_HOST/);
        }
      });
      assert.equal(n, 0);
      ctx.rig.assertNotBlamed(before);
      await victimGetsOwnResponse(ctx);
    },
  ],
  [
    'answers an HTTP/1.1 request without Host with 400; an HTTP/1.0 one gets the backend’s Host',
    async (ctx) => {
      const r = await ctx.once('GET /echo HTTP/1.1\r\n\r\n');
      assert.equal(r?.status, 400);
      const r10 = await ctx.once('GET /echo HTTP/1.0\r\n\r\n');
      assert.equal(r10?.status, 200);
      const hosts = echoed(echo(r10!.body), 'host');
      assert.equal(hosts.length, 1);
      assert.match(hosts[0]!, /^127\.0\.0\.1:\d+$/);
    },
  ],
  [
    'answers an invalid Host with 400',
    async (ctx) => {
      for (const host of ['a b', 'user@evil.example', 'evil.example/x', 'a:99999', 'a:b']) {
        const r = await ctx.once(`GET /echo HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        assert.equal(r?.status, 400, host);
      }
    },
  ],
  // --- finding 3: slow clients are the client's problem -------------------------------
  [
    'answers stalled uploads with 408 and closes, without blaming or occupying the backend',
    async (ctx) => {
      const before = ctx.rig.blame();
      const connectionsBefore = ctx.rig.backend.connections;
      const stalled = await Promise.all(
        Array.from({ length: 6 }, async () => {
          const c = await ctx.client();
          c.send(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`);
          return c;
        }),
      );
      for (const c of stalled) {
        const r = await c.response({ timeoutMs: 10_000 });
        assert.equal(r.status, 408);
        assert.match(r.body.toString(), /SWY_BODY_TIMEOUT/);
        assert.equal(r.header('connection')?.toLowerCase(), 'close');
        assert.ok(await c.closesWithin(3000), 'the connection closes after the 408');
      }
      assert.equal(ctx.rig.backend.connections, connectionsBefore, 'a buffered body never took a backend connection');
      ctx.rig.assertNotBlamed(before);
      await victimGetsOwnResponse(ctx);
    },
  ],
  [
    'a client that sends part of a body then goes silent is closed, not kept open',
    async (ctx) => {
      const c = await ctx.client();
      c.send('POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel');
      const r = await okOrNull(c, { timeoutMs: 10_000 });
      assert.equal(r?.status, 408);
      assert.ok(await c.closesWithin(3000));
    },
  ],
  [
    'answers a declared body over --max-body-size with 413 at once, and a chunked one when it passes the limit',
    async (ctx) => {
      const n = await forwardedDuring(ctx, async () => {
        const r = await ctx.once('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n');
        assert.equal(r?.status, 413);
        const c = await ctx.client();
        c.send('POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n');
        const piece = Buffer.alloc(256 * 1024, 0x41);
        for (let i = 0; i < 6 && !c.socket.destroyed; i++) {
          c.send(`${piece.length.toString(16)}\r\n`);
          c.send(piece);
          c.send('\r\n');
          await sleep(5);
        }
        const big = await okOrNull(c, { timeoutMs: 5000 });
        // The raw engine answers 413; a streaming engine may instead cut the upload short.
        if (big !== null) assert.equal(big.status, 413);
        assert.ok(await c.closesWithin(3000));
      });
      assert.ok(n <= 1, 'at most the chunked upload reached the backend, and it got no complete body');
      assert.ok(!ctx.rig.backend.requests.some((q) => q.body.length > 1024 * 1024), 'no body over the limit was forwarded whole');
    },
  ],
  [
    'sends 100 Continue only after the size check, and never when the request is refused',
    async (ctx) => {
      const c = await ctx.client();
      c.send('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n');
      const r = await c.response();
      assert.equal(r.status, 413, 'no 100 Continue before the refusal');
      const ok = await ctx.client();
      ok.send('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
      assert.equal((await ok.response()).status, 100);
      ok.send('hello');
      const done = await ok.response();
      assert.equal(echo(done.body).bodyLength, 5);
    },
  ],
  [
    'sends a fully received chunked body upstream with its exact Content-Length',
    async (ctx) => {
      const r = await ctx.once('POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
      const e = echo(r!.body);
      assert.equal(e.bodyLength, 11);
      assert.deepEqual(echoed(e, 'transfer-encoding').length + echoed(e, 'content-length').length, 1, 'exactly one framing upstream');
    },
  ],
  // --- finding 4: the response side ------------------------------------------------------
  [
    'drops framing fields from trailers and survives them',
    async (ctx) => {
      const r = await ctx.once('GET /trailer-framing HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.ok(r === null || r.status === 200 || r.status === 502);
      if (r !== null && r.status === 200) {
        assert.equal(r.body.toString(), 'hello');
        assert.ok(!r.trailers.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n)), 'no framing field in the trailers');
        assert.ok(!(r.header('content-length') !== undefined && r.header('transfer-encoding') !== undefined), 'one framing');
      }
      await victimGetsOwnResponse(ctx);
    },
  ],
  [
    'removes response fields the backend’s Connection header names',
    async (ctx) => {
      const r = await ctx.once('GET /connection-named HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal(r?.status, 200);
      assert.equal(r!.header('x-secret'), undefined);
      assert.equal(r!.header('x-public'), '2');
    },
  ],
  [
    'never passes two framings from a backend: 502',
    async (ctx) => {
      const r = await ctx.once('GET /two-framings HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.ok(r === null || r.status === 502, `got ${r?.status}`);
      await victimGetsOwnResponse(ctx);
    },
  ],
  [
    'never reuses a backend connection that sent bytes after a complete response',
    async (ctx) => {
      for (let i = 0; i < 3; i++) {
        const r = await ctx.once('GET /bytes-after HTTP/1.1\r\nHost: t\r\n\r\n');
        assert.equal(r?.body.toString(), 'ok');
        await victimGetsOwnResponse(ctx);
      }
    },
  ],
  [
    'answers a 204 that came with a Content-Length and body bytes without either (or 502), and stays in step',
    async (ctx) => {
      const c = await ctx.client();
      c.send('GET /204-body HTTP/1.1\r\nHost: t\r\n\r\n');
      const r = await c.response();
      // The raw engine drops the Content-Length a 204 may not have; undici and Node's client reject the response.
      assert.ok(r.status === 204 || r.status === 502, `status ${r.status}`);
      if (r.status === 204) assert.equal(r.header('content-length'), undefined);
      c.send('GET /after HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal(echo((await c.response()).body).target, '/after');
      await victimGetsOwnResponse(ctx);
    },
  ],
  [
    'answers HEAD without a body even when the backend sends one (or 502), and stays in step',
    async (ctx) => {
      const c = await ctx.client();
      c.send('HEAD /head-body HTTP/1.1\r\nHost: t\r\n\r\n');
      const r = await c.response({ noBody: true });
      assert.ok(r.status === 200 || r.status === 502, `status ${r.status}`);
      c.send('GET /after-head HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal(echo((await c.response()).body).target, '/after-head');
      await victimGetsOwnResponse(ctx);
    },
  ],
  [
    'survives a flood of 1xx responses',
    async (ctx) => {
      const c = await ctx.client();
      c.send('GET /1xx-flood HTTP/1.1\r\nHost: t\r\n\r\n');
      let r = await okOrNull(c);
      let interim = 0;
      while (r !== null && r.status < 200) {
        interim++;
        r = await okOrNull(c);
      }
      assert.ok(interim <= 16, `at most a few interim responses reach the client (${interim})`);
      assert.ok(r === null || r.status === 200 || r.status === 502);
      await victimGetsOwnResponse(ctx);
    },
  ],
  // --- found by the fuzzer (tests/fuzz): each with the seed and case that found it -----------
  [
    'answers an error to HEAD without a body, so the connection stays in step (fuzzer seed 1, case 118)',
    async (ctx) => {
      const c = await ctx.client();
      c.send('HEAD /bad-response HTTP/1.1\r\nHost: t\r\n\r\n');
      const r = await c.response({ noBody: true });
      assert.equal(r.status, 502);
      c.send('GET /after-head-error HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal(echo((await c.response()).body).target, '/after-head-error');
    },
  ],
  [
    'keeps the target of a request that follows one with trailers (fuzzer seed 1, case 51)',
    async (ctx) => {
      const c = await ctx.client();
      c.send('PUT /with-trailers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n');
      assert.equal(echo((await c.response()).body).target, '/with-trailers');
      c.send('GET /after-trailers HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal(echo((await c.response()).body).target, '/after-trailers');
    },
  ],
  [
    'never sends a request again to a backend that answered it badly on a reused connection (fuzzer seed 1, case 2)',
    async (ctx) => {
      const c = await ctx.client();
      c.send('GET /warm HTTP/1.1\r\nHost: t\r\n\r\n');
      await c.response();
      const before = ctx.rig.backend.requests.filter((q) => q.target === '/bad-response').length;
      c.send('GET /bad-response HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal((await c.response()).status, 502);
      await sleep(50);
      assert.equal(ctx.rig.backend.requests.filter((q) => q.target === '/bad-response').length - before, 1, 'the backend saw it once');
    },
  ],
  // --- finding 5: Host and target ------------------------------------------------------
  [
    'rewrites an absolute-form target to origin form, with Host from its authority',
    async (ctx) => {
      const r = await ctx.once('GET http://evil.example:8080/x?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      assert.equal(r?.status, 200);
      const e = echo(r!.body);
      assert.equal(e.target, '/x?q=1');
      assert.deepEqual(echoed(e, 'host'), ['evil.example:8080']);
      assert.deepEqual(echoed(e, 'x-forwarded-host'), ['evil.example:8080']);
    },
  ],
  [
    'refuses absolute-form targets with userinfo or another scheme',
    async (ctx) => {
      for (const t of ['http://user@evil.example/x', 'ftp://evil.example/x']) {
        const r = await ctx.once(`GET ${t} HTTP/1.1\r\nHost: evil.example\r\n\r\n`);
        assert.equal(r?.status, 400, t);
      }
    },
  ],
  // --- finding 6: names and counts -------------------------------------------------------
  [
    'drops header names with an underscore (Transfer_Encoding beside Content-Length)',
    async (ctx) => {
      const r = await ctx.once('POST /echo HTTP/1.1\r\nHost: t\r\nTransfer_Encoding: chunked\r\nX_Custom: 1\r\nContent-Length: 5\r\n\r\nhello');
      const e = echo(r!.body);
      assert.equal(e.bodyLength, 5);
      assert.ok(!e.headers.some(([n]) => n.includes('_')), 'no underscore name reached the backend');
    },
  ],
  [
    'answers more header fields than --max-headers with 431',
    async (ctx) => {
      const many = (n: number): string => Array.from({ length: n }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
      const n = await forwardedDuring(ctx, async () => {
        const r = await ctx.once(`GET /echo HTTP/1.1\r\nHost: t\r\n${many(3000)}\r\n`);
        assert.ok(r?.status === 431, `3000 fields: ${r?.status}`);
        const r2 = await ctx.once(`GET /echo HTTP/1.1\r\nHost: t\r\n${many(100)}\r\n`);
        assert.equal(r2?.status, 431, '101 fields with Host');
      });
      assert.equal(n, 0);
      const ok = await ctx.once(`GET /echo HTTP/1.1\r\nHost: t\r\n${many(99)}\r\n`);
      assert.equal(ok?.status, 200, '100 fields with Host pass');
      assert.equal(echoed(echo(ok!.body), 'x-h98').length, 1, 'none truncated');
    },
  ],
  [
    'drops the client’s Forwarded, X-Real-IP and X-Forwarded-* unless trusted',
    async (ctx) => {
      const r = await ctx.once(
        'GET /echo HTTP/1.1\r\nHost: t\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Port: 1\r\nX-Forwarded-Prefix: /evil\r\n\r\n',
      );
      const e = echo(r!.body);
      assert.deepEqual(echoed(e, 'forwarded'), []);
      assert.deepEqual(echoed(e, 'x-real-ip'), []);
      assert.deepEqual(echoed(e, 'x-forwarded-port'), []);
      assert.deepEqual(echoed(e, 'x-forwarded-prefix'), []);
      assert.deepEqual(echoed(e, 'x-forwarded-for'), ['127.0.0.1']);
    },
  ],
  // --- finding 7: upgrades ----------------------------------------------------------------
  [
    'never tunnels h2c: the request is served as a plain HTTP/1.1 request',
    async (ctx) => {
      const c = await ctx.client();
      c.send('GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n');
      const r = await c.response();
      assert.equal(r.status, 200);
      const e = echo(r.body);
      assert.deepEqual(echoed(e, 'upgrade'), []);
      assert.deepEqual(echoed(e, 'http2-settings'), []);
    },
  ],
  // --- finding 8: loops -------------------------------------------------------------------
  [
    'answers a request that already passed through this deployment with 508, forwarding nothing',
    async (ctx) => {
      const first = await ctx.once('GET /echo HTTP/1.1\r\nHost: t\r\n\r\n');
      const via = echoed(echo(first!.body), 'via');
      assert.equal(via.length, 1);
      assert.match(via[0]!, /^1\.1 switchyard-[0-9a-f]+$/);
      const n = await forwardedDuring(ctx, async () => {
        const r = await ctx.once(`GET /echo HTTP/1.1\r\nHost: t\r\nVia: 1.0 other, ${via[0]}\r\n\r\n`);
        assert.equal(r?.status, 508);
        assert.match(r!.body.toString(), /SWY_LOOP_DETECTED/);
      });
      assert.equal(n, 0);
      const other = await ctx.once('GET /echo HTTP/1.1\r\nHost: t\r\nVia: 1.1 another-tier\r\n\r\n');
      assert.deepEqual(echoed(echo(other!.body), 'via'), ['1.1 another-tier', via[0]]);
    },
  ],
  // --- finding 9: garbage and half-close -------------------------------------------------
  [
    'answers a valid request followed by garbage, then 400 and close',
    async (ctx) => {
      const c = await ctx.client();
      c.send('GET /first HTTP/1.1\r\nHost: t\r\n\r\nGARBAGE \x01\r\n\r\n');
      const r = await c.response();
      assert.equal(r.status, 200);
      assert.equal(echo(r.body).target, '/first');
      const bad = await okOrNull(c);
      assert.equal(bad?.status, 400);
      assert.ok(await c.closesWithin(3000));
    },
  ],
  [
    'abandons a request whose client half-closed (FIN) after it, freeing the backend connection without blame',
    async (ctx) => {
      const before = ctx.rig.blame();
      const slowBefore = ctx.rig.backend.requests.length;
      const c = await ctx.client();
      c.send('GET /slow HTTP/1.1\r\nHost: t\r\n\r\n');
      await waitFor('the request to reach the backend', () => ctx.rig.backend.requests.length > slowBefore);
      const upstream = ctx.rig.backend.requests.at(-1)!.socket;
      c.socket.end();
      await waitFor('the backend connection to be closed', () => upstream.destroyed, 3000);
      await waitFor('the request to end', () => ctx.rig.lb.lb.inFlight === 0, 3000);
      assert.ok(await c.closesWithin(3000));
      ctx.rig.assertNotBlamed(before);
    },
  ],
  // --- the classic smuggling shapes --------------------------------------------------------
  [
    'refuses CL.TE, TE.CL, TE.TE obfuscations, bad Content-Lengths and malformed framing, forwarding nothing',
    async (ctx) => {
      const shapes: [string, number[]][] = [
        ['POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n', [400, 501]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n', [400, 501]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', [400, 501]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n', [400, 501]],
        ['POST /echo HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2, 2\r\n\r\nab', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +2\r\n\r\nab', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n', [400, 413]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0x2\r\n\r\nab', [400]],
        ['GET /echo HTTP/1.1\nHost: t\n\n', [400]],
        ['GET /echo HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n', [400]],
        ['GET /echo HTTP/1.1\r\nHost: t\r\nX-Nul: a\x00b\r\n\r\n', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n', [400]],
        ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\x01\r\nabc\r\n0\r\n\r\n', [400]],
        ['GET /echo HTTP/2.0\r\nHost: t\r\n\r\n', [400, 505]],
        ['CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', [400, 501]],
        ['GET /echo HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n', [417]],
      ];
      const n = await forwardedDuring(ctx, async () => {
        for (const [bytes, statuses] of shapes) {
          const r = await ctx.once(bytes);
          if (r === null) continue; // closed without an answer: nothing forwarded is what matters
          assert.ok(statuses.includes(r.status), `${JSON.stringify(bytes)}: ${r.status}`);
        }
      });
      assert.equal(n, 0, 'no malformed request reached the backend');
      await victimGetsOwnResponse(ctx);
    },
  ],
];

for (const engine of ENGINES) {
  describe(`hostile input: ${engine}`, () => {
    let rig: HostileRig;
    const clients: RawClient[] = [];
    const ctx: Ctx = {
      engine,
      get rig() {
        return rig;
      },
      client: async () => {
        const c = await RawClient.connect(rig.lb.port);
        clients.push(c);
        return c;
      },
      once: async (bytes) => {
        const c = await ctx.client();
        c.send(bytes);
        return okOrNull(c);
      },
    };
    before(async () => {
      rig = await HostileRig.start(engine);
    });
    after(async () => {
      for (const c of clients) c.destroy();
      await rig.close();
    });
    for (const [name, run] of CASES) it(name, () => run(ctx));

    it('260 stalled small uploads take no backend connection: an unrelated GET is answered at once', async (t: TestContext) => {
      const before = rig.blame();
      const opened = rig.backend.connections;
      const stalled: RawClient[] = [];
      try {
        for (let i = 0; i < 260; i++) {
          const c = await RawClient.connect(rig.lb.port);
          stalled.push(c);
          c.send(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`);
        }
        const started = Date.now();
        const r = await ctx.once('GET /unrelated HTTP/1.1\r\nHost: t\r\n\r\n');
        const ms = Date.now() - started;
        t.diagnostic(
          `${engine}: GET answered in ${ms} ms beside 260 stalled uploads; backend connections opened meanwhile: ${rig.backend.connections - opened}`,
        );
        assert.equal(r?.status, 200);
        assert.ok(ms < 1000, `answered in ${ms} ms`);
        assert.ok(rig.backend.connections - opened <= 1, 'the stalled uploads opened no backend connection');
      } finally {
        for (const c of stalled) c.destroy();
      }
      await waitFor('the stalled uploads to be gone', () => rig.lb.lb.inFlight === 0, 5000);
      rig.assertNotBlamed(before);
    });

    it('bounds the backend connections slow streaming uploads can hold, so other requests are still served', async (t: TestContext) => {
      // 4 connections per backend: uploads larger than the request buffer may hold at most 2.
      const small = await HostileRig.start(engine, { connections: 4, limits: { clientBodyTimeoutMs: 5000 } });
      const uploads: RawClient[] = [];
      try {
        for (let i = 0; i < 5; i++) {
          const c = await RawClient.connect(small.lb.port);
          uploads.push(c);
          c.send(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${1024 * 1024}\r\n\r\n`);
          c.send(Buffer.alloc(100 * 1024, 0x61));
        }
        await sleep(300);
        const started = Date.now();
        for (let i = 0; i < 5; i++) {
          const g = await RawClient.connect(small.lb.port);
          uploads.push(g);
          g.send(`GET /get-${i} HTTP/1.1\r\nHost: t\r\n\r\n`);
          const r = await g.response({ timeoutMs: 3000 });
          assert.equal(r.status, 200);
        }
        const ms = Date.now() - started;
        t.diagnostic(
          `${engine}: 5 uploads stalled after 100 KiB of 1 MiB, --backend-connections 4: 5 GETs answered in ${ms} ms, ${small.backend.open} backend connections open`,
        );
        assert.ok(ms < 2500, `GETs served while uploads stall (${ms} ms)`);
        if (engine === 'raw') assert.ok(small.backend.open <= 4, `backend connections ${small.backend.open}`);
      } finally {
        for (const c of uploads) c.destroy();
        await small.close();
      }
    });

    it('refuses a backend that is the balancer itself: the admin API says 400, the registry entry is skipped, a request never loops', async () => {
      const lb = await TestBalancer.start({ settings: { ...SETUPS[engine], health: { ...TEST_SETTINGS.health, enabled: false } } });
      try {
        for (const url of [lb.url, `http://localhost:${lb.port}`, lb.adminUrl]) {
          const r = await fetch(`${lb.adminUrl}/backends`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ id: 'self', url }),
          });
          assert.equal(r.status, 400, url);
          assert.match(await r.text(), /address of this balancer/);
        }
        // Written straight into the registry (as another balancer or a controller could): skipped.
        await lb.registry.upsert(spec('self', lb.url));
        await waitFor('the registry change to be applied', () => lb.lb.upstreams.version === lb.registry.current().version);
        assert.equal(lb.lb.upstreams.get('self'), undefined);
        // Two balancers of one deployment sending to each other (a URL no check can see through): Via stops it after one hop.
        const peer = await TestBalancer.start({
          backends: [spec('first', lb.url)],
          settings: { ...SETUPS[engine], health: { ...TEST_SETTINGS.health, enabled: false }, limits: { via: lb.lb.limits.via } },
        });
        try {
          await peer.routable(1);
          await lb.registry.upsert(spec('peer', peer.url));
          await lb.routable(1);
          const before = lb.lb.totals().requestsTotal + peer.lb.totals().requestsTotal;
          const c = await RawClient.connect(lb.port);
          c.send('GET /loop HTTP/1.1\r\nHost: t\r\n\r\n');
          const r = await okOrNull(c);
          c.destroy();
          assert.equal(r?.status, 508);
          await waitFor('both balancers to be idle', () => lb.lb.inFlight === 0 && peer.lb.inFlight === 0, 3000);
          assert.equal(lb.lb.totals().requestsTotal + peer.lb.totals().requestsTotal - before, 2, 'one hop to the peer, refused there');
        } finally {
          await peer.close();
        }
      } finally {
        await lb.close();
      }
    });

    it('cuts a client that does not read its response, freeing the backend connection without blame', async () => {
      const before = rig.blame();
      const c = await ctx.client();
      c.socket.pause();
      c.send('GET /big HTTP/1.1\r\nHost: t\r\n\r\n');
      await waitFor('the response to start', () => rig.lb.lb.inFlight === 1, 5000);
      await waitFor('the balancer to give up on the client', () => rig.lb.lb.inFlight === 0, 15_000);
      rig.assertNotBlamed(before);
      // What reached the client is a response cut short (32 MiB were sent by the backend).
      c.socket.resume();
      await assert.rejects(c.response({ timeoutMs: 10_000 }), /connection closed in a body/);
    });
  });
}

/**
 * The same cases over TLS, on every engine: the HTTPS listener hands each connection to the
 * same listeners once its handshake is done, so nothing a client sends inside TLS may get
 * further than over plain TCP.
 */
const ca = TestCa.create();
const cert = ca.issue('hostile-tls', ['localhost']);
after(() => ca.close());
for (const engine of ENGINES) {
  describe(`hostile input over TLS: ${engine}`, () => {
    let rig: HostileRig;
    let tlsPort = 0;
    const clients: RawClient[] = [];
    const ctx: Ctx = {
      engine,
      get rig() {
        return rig;
      },
      client: async () => {
        const c = await RawClient.connectTls(tlsPort, ca.read());
        clients.push(c);
        return c;
      },
      once: async (bytes) => {
        const c = await ctx.client();
        c.send(bytes);
        return okOrNull(c);
      },
    };
    before(async () => {
      rig = await HostileRig.start(engine);
      const tls = new TlsListener(rig.lb.lb.server, {
        certs: [`${cert.cert}:${cert.key}`],
        reloadIntervalMs: 0,
        handshakeTimeoutMs: 5000,
        logger: silentLogger(),
      });
      rig.lb.lb.adopt(tls);
      tlsPort = (await tls.listen(0, '127.0.0.1')).port;
    });
    after(async () => {
      for (const c of clients) c.destroy();
      await rig.close();
    });
    for (const [name, run] of CASES) it(name, () => run(ctx));
  });
}
