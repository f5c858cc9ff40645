import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { parseBackendSpec, type BackendSpec } from '../../common/backend.js';
import { freePort } from '../helpers/ports.js';
import { RawBackend, RawClient, respond, type RawConn, type RawRequest } from '../helpers/raw-http.js';
import { SETUP_NAMES, SETUPS, TEST_SETTINGS, TestBackend, TestBalancer, type SetupName } from '../helpers/stack.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * Engine conformance: the same HTTP/1.1 behaviour from every forwarding
 * engine, checked with a raw-socket client and raw-socket backends (bytes
 * written by the test, parsed by the test's own small parser). An item an
 * engine does not do by design is listed in NOT_APPLICABLE with the reason.
 */
const NOT_APPLICABLE: Readonly<Record<string, Partial<Record<SetupName, string>>>> = {};

const BIG = 64 * 1024 * 1024;
const noHealth = { enabled: false, path: '/health', intervalMs: 1000, fastIntervalMs: 100, timeoutMs: 500, rise: 2, fall: 3 };

function spec(id: string, url: string): BackendSpec {
  const r = parseBackendSpec({ id, url });
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');

/** What the conformance backend answers, by path. */
class Script {
  bigWritten = 0;
  slow: RawConn[] = [];

  handle(req: RawRequest, c: RawConn): void {
    const path = req.target.split('?')[0];
    switch (path) {
      case '/len':
        if (req.method === 'HEAD') c.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\n');
        else respond(c, 200, 'hello', [['content-type', 'text/plain']]);
        return;
      case '/chunked':
        c.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
        return;
      case '/trailers':
        c.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc123\r\n\r\n');
        return;
      case '/204':
        c.write('HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n');
        return;
      case '/304':
        c.write('HTTP/1.1 304 Not Modified\r\netag: "v1"\r\n\r\n');
        return;
      case '/103':
        c.write('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n');
        setTimeout(() => respond(c, 200, 'after hints'), 20);
        return;
      case '/close':
        respond(c, 200, 'bye', [['connection', 'close']]);
        c.socket.end();
        return;
      case '/idle-close':
        respond(c, 200, 'ok');
        c.socket.setTimeout(150, () => c.socket.destroy());
        return;
      case '/race':
        // The first request on a connection is answered; a later one finds it closed (the keep-alive race).
        if (req.seq === 0) respond(c, 200, 'first on this connection');
        else c.socket.destroy();
        return;
      case '/slow':
        this.slow.push(c);
        return;
      case '/cut':
        c.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789');
        setTimeout(() => c.socket.destroy(), 30);
        return;
      case '/big':
        this.#big(c);
        return;
      default: {
        const headers: Record<string, string[]> = {};
        for (const [n, v] of req.headers) (headers[n.toLowerCase()] ??= []).push(v);
        respond(
          c,
          200,
          JSON.stringify({ method: req.method, target: req.target, headers, bodyLength: req.body.length, bodySha1: sha1(req.body), chunked: req.chunked }),
          [['content-type', 'application/json']],
        );
      }
    }
  }

  #big(c: RawConn): void {
    this.bigWritten = 0;
    c.write(`HTTP/1.1 200 OK\r\ncontent-length: ${BIG}\r\n\r\n`);
    const piece = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (this.bigWritten < BIG) {
        this.bigWritten += piece.length;
        if (!c.write(piece)) {
          c.socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  }
}

type Echo = { method: string; target: string; headers: Record<string, string[]>; bodyLength: number; bodySha1: string; chunked: boolean };
const echo = (b: Buffer): Echo => JSON.parse(b.toString()) as Echo;

for (const engine of SETUP_NAMES) {
  describe(`engine conformance: ${engine}`, () => {
    const script = new Script();
    let backend: RawBackend;
    let lb: TestBalancer;
    const clients: RawClient[] = [];
    const cleanup: (() => Promise<unknown>)[] = [];

    const client = async (): Promise<RawClient> => {
      const c = await RawClient.connect(lb.port);
      clients.push(c);
      return c;
    };
    /** One request on a new connection. */
    const once = async (bytes: string, opts: { noBody?: boolean } = {}) => {
      const c = await client();
      c.send(bytes);
      return c.response(opts);
    };
    /**
     * Registers one conformance item, unless it does not apply to this engine by
     * design (NOT_APPLICABLE, listed in docs/engines.md): such an item is not run
     * at all rather than reported as a skip.
     */
    const item = (name: string, fn: (t: TestContext) => Promise<void>): void => {
      if (NOT_APPLICABLE[name]?.[engine] === undefined) it(name, fn);
    };

    before(async () => {
      backend = await RawBackend.start((req, c) => script.handle(req, c));
      lb = await TestBalancer.start({
        backends: [spec('raw1', backend.url)],
        settings: { ...SETUPS[engine], health: noHealth, pool: { ...TEST_SETTINGS.pool, headersTimeoutMs: 800 } },
      });
      await lb.routable(1);
    });
    after(async () => {
      for (const c of clients) c.destroy();
      for (const s of script.slow) s.socket.destroy();
      for (const c of cleanup.reverse()) await c();
      await lb.close();
      await backend.close();
    });

    item('Content-Length both ways', async () => {
      const r = await once('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world');
      assert.equal(r.status, 200);
      const e = echo(r.body);
      assert.equal(e.bodyLength, 11);
      assert.equal(e.chunked, false);
      assert.equal(e.headers['content-length']?.[0], '11');
      const l = await once('GET /len HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal(l.header('content-length'), '5');
      assert.equal(l.body.toString(), 'hello');
    });

    item('chunked both ways (request body streamed in pieces, response re-framed or passed)', async () => {
      const c = await client();
      c.send('PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n');
      const parts = [Buffer.alloc(1000, 0x41), Buffer.alloc(70_000, 0x42), Buffer.alloc(3, 0x43)];
      for (const p of parts) {
        c.send(`${p.length.toString(16)}\r\n`);
        c.send(p);
        c.send('\r\n');
        await sleep(10);
      }
      c.send('0\r\n\r\n');
      const r = await c.response();
      const e = echo(r.body);
      assert.equal(e.bodyLength, 71_003);
      assert.equal(e.bodySha1, sha1(Buffer.concat(parts)));
      assert.equal(e.chunked, true, 'a chunked request body goes to the backend chunked');
      assert.equal(e.headers['content-length'], undefined);
      const ch = await once('GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal(ch.status, 200);
      assert.equal(ch.framing, 'chunked');
      assert.equal(ch.body.toString(), 'hello world');
    });

    item('serves the next request on a connection whose last body went past --request-buffer (streamed)', async () => {
      // A regression: the undici engine left such a connection paused once the streamed body ended.
      const c = await client();
      const body = Buffer.alloc(70_001, 'b');
      for (let i = 0; i < 3; i++) {
        c.send(Buffer.concat([Buffer.from(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]));
        const r = await c.response();
        assert.equal(r.status, 200, `request ${i + 1} on the connection`);
        assert.equal(echo(r.body).bodyLength, body.length);
      }
      c.send('GET /len HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal((await c.response()).body.toString(), 'hello');
    });

    item('streams a large chunked upload intact', async () => {
      const c = await client();
      const body = Buffer.alloc(5 * 1024 * 1024);
      for (let i = 0; i < body.length; i++) body[i] = i % 251;
      c.send('POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let i = 0; i < body.length; i += 256 * 1024) {
        const p = body.subarray(i, i + 256 * 1024);
        c.send(`${p.length.toString(16)}\r\n`);
        c.send(p);
        c.send('\r\n');
      }
      c.send('0\r\n\r\n');
      const e = echo((await c.response({ timeoutMs: 20_000 })).body);
      assert.equal(e.bodyLength, body.length);
      assert.equal(e.bodySha1, sha1(body));
    });

    item('Expect: 100-continue is answered before the body is sent, and not forwarded', async () => {
      const c = await client();
      c.send('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
      const interim = await c.response({ timeoutMs: 2000 });
      assert.equal(interim.status, 100);
      c.send('hello');
      const r = await c.response();
      assert.equal(r.status, 200);
      const e = echo(r.body);
      assert.equal(e.bodyLength, 5);
      assert.equal(e.headers.expect, undefined);
    });

    item('HEAD, 204 and 304 come without a body and the connection stays usable', async () => {
      const c = await client();
      c.send('HEAD /len HTTP/1.1\r\nHost: t\r\n\r\n');
      const h = await c.response({ noBody: true });
      assert.equal(h.status, 200);
      assert.equal(h.header('content-length'), '5');
      for (const [path, status] of [
        ['/204', 204],
        ['/304', 304],
      ] as const) {
        c.send(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
        const r = await c.response();
        assert.equal(r.status, status);
        assert.equal(r.header('transfer-encoding'), undefined, `${status} without Transfer-Encoding`);
      }
      c.send('GET /len HTTP/1.1\r\nHost: t\r\n\r\n');
      const after = await c.response();
      assert.equal(after.body.toString(), 'hello', 'no stray body bytes before the next response');
    });

    item('passes trailers of a chunked response to an HTTP/1.1 client', async () => {
      const r = await once('GET /trailers HTTP/1.1\r\nHost: t\r\nTE: trailers\r\n\r\n');
      assert.equal(r.body.toString(), 'hello');
      assert.equal(r.framing, 'chunked');
      const t = r.trailers.find(([n]) => n.toLowerCase() === 'x-checksum');
      assert.equal(t?.[1], 'abc123');
    });

    item('answers after a 1xx interim response (103) with the final response intact', async () => {
      const c = await client();
      c.send('GET /103 HTTP/1.1\r\nHost: t\r\n\r\n');
      let r = await c.response();
      while (r.status < 200) r = await c.response();
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'after hints');
      c.send('GET /len HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal((await c.response()).body.toString(), 'hello');
    });

    item('answers pipelined requests in order', async () => {
      const c = await client();
      c.send(
        'GET /echo?n=1 HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo?n=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /len HTTP/1.1\r\nHost: t\r\n\r\nGET /echo?n=4 HTTP/1.1\r\nHost: t\r\n\r\n',
      );
      const r1 = echo((await c.response()).body);
      const r2 = echo((await c.response()).body);
      const r3 = await c.response();
      const r4 = echo((await c.response()).body);
      assert.deepEqual([r1.target, r2.target, r3.body.toString(), r4.target], ['/echo?n=1', '/echo?n=2', 'hello', '/echo?n=4']);
      assert.equal(r2.bodyLength, 3);
    });

    item('rejects request smuggling shapes and bad header bytes with 400, sending nothing to the backend', async () => {
      const before = backend.requests.length;
      const shapes = [
        'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n',
        'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
        'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab',
        'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +2\r\n\r\nab',
        'GET /echo HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n',
        'GET /echo HTTP/1.1\r\nHost: t\r\nX-Bad: a\x01b\r\n\r\n',
        'GET /echo HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n',
      ];
      for (const s of shapes) {
        const r = await once(s);
        assert.equal(r.status, 400, JSON.stringify(s));
        assert.match(r.body.toString(), /SWY_BAD_REQUEST/);
      }
      assert.equal(backend.requests.length, before);
    });

    item('answers an oversized head with 431', async () => {
      const r = await once(`GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.equal(r.status, 431);
      assert.match(r.body.toString(), /SWY_HEADERS_TOO_LARGE/);
    });

    item('releases the backend connection when the client aborts', async () => {
      const c = await client();
      const slowBefore = script.slow.length;
      c.send('GET /slow HTTP/1.1\r\nHost: t\r\n\r\n');
      await waitFor('the request to reach the backend', () => script.slow.length > slowBefore);
      const upstreamSocket = script.slow[script.slow.length - 1]!.socket;
      c.destroy();
      await waitFor('the backend connection to close', () => upstreamSocket.destroyed, 3000);
      const up = lb.lb.upstreams.get('raw1')!;
      await waitFor('the balancer to release the request', () => lb.lb.inFlight === 0 && up.inFlight === 0, 3000);
    });

    item('reuses keep-alive connections on both sides', async () => {
      const c = await client();
      c.send('GET /len HTTP/1.1\r\nHost: t\r\n\r\n');
      await c.response();
      const before = backend.connections;
      for (let i = 0; i < 10; i++) {
        c.send('GET /len HTTP/1.1\r\nHost: t\r\n\r\n');
        assert.equal((await c.response()).body.toString(), 'hello');
      }
      assert.equal(backend.connections, before, 'no new backend connection for sequential requests');
    });

    item('recovers when the backend closes idle keep-alive connections', async () => {
      const c = await client();
      for (let i = 0; i < 3; i++) {
        c.send('GET /idle-close HTTP/1.1\r\nHost: t\r\n\r\n');
        const r = await c.response();
        assert.equal(r.status, 200, `request ${i + 1}`);
        await sleep(300);
      }
    });

    item('retries a request whose reused keep-alive connection the backend had just closed, on a fresh connection to the same backend', async () => {
      const c = await client();
      c.send('GET /race HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal((await c.response()).status, 200);
      c.send('GET /race HTTP/1.1\r\nHost: t\r\n\r\n');
      const r = await c.response();
      assert.equal(r.status, 200, r.body.toString());
    });

    item('applies backpressure to a slow client with a large body', async (t) => {
      const c = await client();
      c.socket.pause();
      c.send('GET /big HTTP/1.1\r\nHost: t\r\n\r\n');
      await sleep(1500);
      const stalled = script.bigWritten;
      t.diagnostic(`${engine}: backend had written ${(stalled / 1048576).toFixed(1)} MiB of ${BIG / 1048576} MiB while the client read nothing`);
      assert.ok(stalled < BIG * 0.75, `the backend was held back (${stalled} bytes written)`);
      c.socket.resume();
      const r = await c.response({ timeoutMs: 30_000 });
      assert.equal(r.body.length, BIG);
    });

    item('honours Connection: close from the client, without forwarding it', async () => {
      const c = await client();
      c.send('GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
      const r = await c.response();
      assert.equal(r.status, 200);
      assert.equal(r.header('connection')?.toLowerCase(), 'close');
      assert.notEqual(echo(r.body).headers.connection?.[0]?.toLowerCase(), 'close', 'Connection is hop-by-hop');
      assert.ok(await c.closesWithin(2000), 'the connection closes after the response');
    });

    item('keeps the client connection when the backend closes its own', async () => {
      const c = await client();
      c.send('GET /close HTTP/1.1\r\nHost: t\r\n\r\n');
      const r = await c.response();
      assert.equal(r.body.toString(), 'bye');
      assert.notEqual(r.header('connection')?.toLowerCase(), 'close');
      c.send('GET /len HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal((await c.response()).body.toString(), 'hello');
    });

    item('serves HTTP/1.0 clients: no chunked framing, close unless keep-alive was asked for', async () => {
      const c = await client();
      c.send('GET /chunked HTTP/1.0\r\n\r\n');
      const r = await c.response();
      assert.equal(r.status, 200);
      assert.notEqual(r.framing, 'chunked');
      assert.equal(r.body.toString(), 'hello world');
      assert.ok(await c.closesWithin(2000));
      const k = await client();
      k.send('GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      const first = await k.response();
      assert.equal(first.body.toString(), 'hello');
      assert.equal(first.header('connection')?.toLowerCase(), 'keep-alive');
      k.send('GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      assert.equal((await k.response()).body.toString(), 'hello');
    });

    item('answers 504 when the backend does not answer in time', async () => {
      const r = await once('GET /slow HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal(r.status, 504);
      assert.match(r.body.toString(), /SWY_UPSTREAM_TIMEOUT/);
    });

    item('cuts the client connection when the backend fails mid-body', async () => {
      const c = await client();
      c.send('GET /cut HTTP/1.1\r\nHost: t\r\n\r\n');
      await assert.rejects(c.response(), /connection closed in a body/);
    });

    const refusedBalancer = async (): Promise<TestBalancer> => {
      const dead = await freePort();
      const two = await TestBalancer.start({
        backends: [spec('dead', `http://127.0.0.1:${dead}`), spec('live', backend.url)],
        settings: { ...SETUPS[engine], health: noHealth },
      });
      cleanup.push(() => two.close());
      await two.routable(2);
      return two;
    };
    const viaRefused = async (two: TestBalancer, request: string): Promise<void> => {
      for (let i = 0; i < 4; i++) {
        const c = await RawClient.connect(two.port);
        clients.push(c);
        c.send(request);
        const r = await c.response();
        assert.equal(r.status, 200, r.body.toString());
        assert.equal(r.header('x-backend'), 'live');
      }
    };

    item('retries a refused connection on another backend', async () => {
      await viaRefused(await refusedBalancer(), 'GET /echo HTTP/1.1\r\nHost: t\r\n\r\n');
    });

    item('retries a refused connection on another backend, with a body too', async () => {
      await viaRefused(await refusedBalancer(), 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi');
    });

    item('tunnels WebSocket upgrades', async () => {
      const ws1 = await TestBackend.start(`ws-${engine.replace('/', '-')}`);
      const wlb = await TestBalancer.start({ backends: [ws1.spec()], settings: { ...SETUPS[engine] } });
      cleanup.push(
        () => ws1.close(),
        () => wlb.close(),
      );
      await wlb.routable(1);
      const ws = new WebSocket(`ws://127.0.0.1:${wlb.port}/ws`);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const got = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
      ws.send('ping through the balancer');
      assert.equal(await got, 'ping through the balancer');
      ws.close();
    });
  });
}
