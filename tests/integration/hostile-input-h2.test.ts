import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { H2Listener } from '../../balancer/forward/http2/h2-listener.js';
import { silentLogger } from '../../common/logger.js';
import { END_HEADERS, END_STREAM, FrameType, frame, headerBlock, RawH2 } from '../helpers/h2-frames.js';
import { echo, echoed, ENGINES, HostileRig, sha1, type Echo } from '../helpers/hostile.js';
import { RawClient } from '../helpers/raw-http.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * The hostile-input suite over HTTP/2, on every engine: raw frames from a
 * client that sends what a real client library refuses to (uppercase names,
 * connection-specific fields, CR/LF, Content-Length contradicted by the DATA,
 * misplaced pseudo-headers, floods), through the HTTP/2 listener to the
 * recording backend, which speaks HTTP/1.1. Each case checks what the
 * client got and what the backend received: nothing malformed crosses the
 * h2→h1 translation (RFC 9113 §8.2, §8.3), and the next client still gets
 * its own answer.
 */

type Fields = [string, string][];
const get = (path = '/', extra: Fields = []): Fields => [[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', 't'], ...extra];
const post = (path = '/', extra: Fields = []): Fields => [[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 't'], ...extra];

// RFC 9113 §7 error codes.
const PROTOCOL_ERROR = 1;
const REFUSED_STREAM = 7;
const CANCEL = 8;
const ENHANCE_YOUR_CALM = 11;

for (const engine of ENGINES) {
  describe(`hostile input over HTTP/2: ${engine}`, () => {
    let rig: HostileRig;
    let h2: H2Listener;
    let port = 0;
    const conns: RawH2[] = [];

    const open = async (): Promise<RawH2> => {
      const c = await RawH2.open(port);
      conns.push(c);
      return c;
    };
    /** Backend requests recorded during `fn`. */
    const forwardedDuring = async (fn: () => Promise<void>): Promise<number> => {
      const before = rig.backend.requests.length;
      await fn();
      await sleep(50);
      return rig.backend.requests.length - before;
    };
    /** A fresh client's own request gets its own answer, over HTTP/2 and over HTTP/1.1. */
    const victimServed = async (): Promise<void> => {
      const c = await open();
      c.request(1, get('/victim-h2'));
      const r = await c.response(1);
      assert.equal(r.status, 200, 'the HTTP/2 victim is answered');
      assert.equal(echo(r.body).target, '/victim-h2');
      const h1 = await RawClient.connect(rig.lb.port);
      h1.send('GET /victim-h1 HTTP/1.1\r\nHost: t\r\n\r\n');
      const r1 = await h1.response();
      h1.destroy();
      assert.equal(echo(r1.body).target, '/victim-h1');
    };
    /** One request on a new connection: what became of it. */
    const once = async (fields: Fields, body?: string | Buffer, endStream = true) => {
      const c = await open();
      c.request(1, fields, body === undefined && endStream);
      if (body !== undefined) c.data(1, body, endStream);
      return c.response(1, 3000);
    };

    before(async () => {
      rig = await HostileRig.start(engine);
      h2 = new H2Listener(rig.lb.lb.forwarder, {
        maxStreams: 100,
        headerTableSize: 0,
        maxHeaderSize: 16_384,
        maxHeaders: 100,
        idleTimeoutMs: 5000,
        resetJudgedAfter: 100,
        logger: silentLogger(),
      });
      rig.lb.lb.adopt(h2);
      port = (await h2.listenCleartext(0, '127.0.0.1')).port;
    });
    after(async () => {
      for (const c of conns) c.close();
      await rig.close();
    });

    it('serves a plain request, and a body without Content-Length arrives whole (exact length or re-chunked)', async () => {
      const ok = await once(get('/plain', [['x-a', '1']]));
      assert.equal(ok.status, 200);
      const e = echo(ok.body);
      assert.equal(e.method, 'GET');
      assert.deepEqual(echoed(e, 'host'), ['t'], ':authority becomes the one Host');
      assert.deepEqual(echoed(e, 'x-a'), ['1']);
      for (const size of [5, 200_000]) {
        const body = Buffer.alloc(size, 0x62);
        const r = await once(post('/upload'), body);
        assert.equal(r.status, 200, `a ${size}-byte body`);
        const u = echo(r.body);
        assert.equal(u.bodyLength, size);
        assert.equal(u.bodySha1, sha1(body));
      }
    });

    it('joins split Cookie fields with "; " (RFC 9113 §8.2.3)', async () => {
      const r = await once(
        get('/cookies', [
          ['cookie', 'a=1'],
          ['cookie', 'b=2'],
        ]),
      );
      assert.deepEqual(echoed(echo(r.body), 'cookie'), ['a=1; b=2']);
    });

    it('refuses what RFC 9113 calls malformed (stream error or 400), and forwards none of it', async () => {
      const cases: [string, Fields][] = [
        ['an uppercase field name', get('/', [['X-Upper', '1']])],
        ['Connection', get('/', [['connection', 'keep-alive']])],
        ['Keep-Alive', get('/', [['keep-alive', 'timeout=5']])],
        ['Proxy-Connection', get('/', [['proxy-connection', 'keep-alive']])],
        ['Transfer-Encoding', post('/', [['transfer-encoding', 'chunked']])],
        ['Upgrade', get('/', [['upgrade', 'websocket']])],
        ['TE other than trailers', get('/', [['te', 'gzip']])],
        [
          'a pseudo-header after a field',
          [
            [':method', 'GET'],
            ['x-a', '1'],
            [':path', '/'],
            [':scheme', 'http'],
            [':authority', 't'],
          ],
        ],
        ['an unknown pseudo-header', get('/', [[':foo', 'x']])],
        ['a response pseudo-header', get('/', [[':status', '200']])],
        ['two :path', get('/', [[':path', '/other']])],
        [
          'no :path',
          [
            [':method', 'GET'],
            [':scheme', 'http'],
            [':authority', 't'],
          ],
        ],
        [
          'no :method',
          [
            [':path', '/'],
            [':scheme', 'http'],
            [':authority', 't'],
          ],
        ],
        ['a :path with a space and a second request line', get('/a HTTP/1.1\r\nHost: x\r\n\r\nGET /b')],
        [
          'a :method with a space',
          [
            [':method', 'GET /x'],
            [':scheme', 'http'],
            [':path', '/'],
            [':authority', 't'],
          ],
        ],
        [
          'CR LF in :authority',
          [
            [':method', 'GET'],
            [':scheme', 'http'],
            [':path', '/'],
            [':authority', 't\r\nx-injected: 1'],
          ],
        ],
        [
          'two Content-Length values',
          post('/', [
            ['content-length', '1'],
            ['content-length', '2'],
          ]),
        ],
        ['a Content-Length list', post('/', [['content-length', '1, 1']])],
        ['Host beside :authority naming another host', get('/', [['host', 'other']])],
        [
          'two Host beside :authority',
          get('/', [
            ['host', 't'],
            ['host', 't'],
          ]),
        ],
        [
          'an empty :authority',
          [
            [':method', 'GET'],
            [':scheme', 'http'],
            [':path', '/'],
            [':authority', ''],
          ],
        ],
        [
          'CONNECT',
          [
            [':method', 'CONNECT'],
            [':authority', 't:443'],
          ],
        ],
      ];
      for (const [name, fields] of cases) {
        let r: Awaited<ReturnType<typeof once>> | undefined;
        const n = await forwardedDuring(async () => {
          r = await once(fields, fields[0]![1] === 'POST' ? 'x' : undefined);
        });
        assert.equal(n, 0, `${name}: nothing forwarded`);
        const refused = r!.reset !== undefined || r!.goaway !== undefined || (r!.status !== undefined && r!.status >= 400 && r!.status < 600);
        assert.ok(refused, `${name}: refused (${JSON.stringify({ ...r, body: r!.body.toString() })})`);
      }
      await victimServed();
    });

    it('never lets CR, LF or NUL in a field become a second header line (the field is dropped before translation)', async () => {
      for (const value of ['a\r\nx-injected: 1', 'a\nx-injected: 1', 'a\rx-injected: 1', 'a\0b']) {
        const r = await once(get('/crlf', [['x-a', value]]));
        if (r.status !== 200) {
          assert.ok(r.reset !== undefined || (r.status ?? 0) >= 400, `${JSON.stringify(value)}: refused or forwarded clean`);
          continue;
        }
        const e: Echo = echo(r.body);
        assert.deepEqual(echoed(e, 'x-injected'), [], `${JSON.stringify(value)}: no injected field`);
        for (const [n, v] of e.headers) assert.doesNotMatch(`${n}${v}`, /[\r\n\0]/);
      }
    });

    it('refuses a body that contradicts its Content-Length, longer or shorter, and forwards no complete request', async () => {
      for (const [declared, sent] of [
        [2, 'hello'],
        [10, 'hello'],
      ] as const) {
        let r: Awaited<ReturnType<typeof once>> | undefined;
        const n = await forwardedDuring(async () => {
          r = await once(post('/cl', [['content-length', String(declared)]]), sent);
        });
        assert.equal(n, 0, `Content-Length ${declared} with ${sent.length} bytes: nothing forwarded`);
        assert.ok(r!.reset !== undefined || r!.goaway !== undefined || (r!.status ?? 0) >= 400, `Content-Length ${declared}: refused`);
      }
      // A streaming body (past the request buffer) that ends short: what went upstream is never a complete request.
      const before = rig.backend.requests.length;
      const c = await open();
      c.request(1, post('/cl-stream', [['content-length', '300000']]), false);
      c.data(1, Buffer.alloc(100_000, 0x61), true);
      const r = await c.response(1, 3000);
      assert.ok(r.reset !== undefined || r.goaway !== undefined || (r.status ?? 0) >= 400, 'a short streaming body: refused');
      await sleep(100);
      const upstream = rig.backend.requests.slice(before).filter((q) => q.target === '/cl-stream');
      assert.ok(
        upstream.every((q) => q.body.length < 300_000),
        'no complete request reached the backend (its connection was cut short of the declared length)',
      );
      await victimServed();
    });

    it('forwards a request line hidden in a body as body bytes only', async () => {
      const smuggled = 'GET /poison HTTP/1.1\r\nHost: t\r\n\r\n';
      const n = await forwardedDuring(async () => {
        const r = await once(post('/carrier', [['content-length', String(smuggled.length)]]), smuggled);
        assert.equal(r.status, 200);
        assert.equal(echo(r.body).bodyLength, smuggled.length);
      });
      assert.equal(n, 1, 'one request upstream, not two');
      assert.ok(!rig.backend.requests.some((q) => q.target === '/poison'));
    });

    it('answers 431 to a header list past the limits, as over HTTP/1.1, refuses one far past them, and forwards none', async () => {
      const cases: [string, Fields, (r: Awaited<ReturnType<typeof once>>) => boolean][] = [
        ['a 20 kB field', get('/', [['x-big', 'x'.repeat(20_000)]]), (r) => r.status === 431],
        [
          '150 fields',
          get(
            '/',
            Array.from({ length: 150 }, (_, i): [string, string] => [`x-h${i}`, 'v']),
          ),
          (r) => r.status === 431,
        ],
        ['a 100 kB field', get('/', [['x-big', 'x'.repeat(100_000)]]), (r) => r.reset !== undefined || r.goaway !== undefined || r.status === 431],
        [
          '400 fields',
          get(
            '/',
            Array.from({ length: 400 }, (_, i): [string, string] => [`x-h${i}`, 'v']),
          ),
          (r) => r.reset !== undefined || r.goaway !== undefined || r.status === 431,
        ],
      ];
      for (const [name, fields, refused] of cases) {
        let r: Awaited<ReturnType<typeof once>> | undefined;
        const n = await forwardedDuring(async () => {
          r = await once(fields);
        });
        assert.equal(n, 0, `${name}: nothing forwarded`);
        assert.ok(refused(r!), `${name}: refused (${JSON.stringify({ ...r, body: r!.body.toString() })})`);
      }
      await victimServed();
    });

    it('closes a connection that floods CONTINUATION frames, and serves others meanwhile', async () => {
      const c = await open();
      const n = await forwardedDuring(async () => {
        c.write(frame(FrameType.Headers, 0, 1, headerBlock(get('/flood'))));
        const piece = frame(FrameType.Continuation, 0, 1, headerBlock([['x-c', 'y'.repeat(50)]]));
        for (let i = 0; i < 2000 && !c.closed; i++) c.write(piece);
        const ended = await c.until((fs) => fs.some((f) => f.type === FrameType.GoAway), 5000);
        assert.ok(ended || c.closed, 'the flooding connection is closed');
      });
      assert.equal(n, 0, 'nothing forwarded');
      await victimServed();
    });

    it('announces its stream limit and refuses streams past it', async () => {
      const c = await open();
      await c.until((fs) => fs.some((f) => f.type === FrameType.Settings));
      assert.equal(c.setting(0x3), 100, 'SETTINGS_MAX_CONCURRENT_STREAMS');
      assert.equal(c.setting(0x2), 0, 'SETTINGS_ENABLE_PUSH off');
      // 101 streams that stay open (the backend never answers /slow).
      for (let i = 0; i < 101; i++) c.request(1 + 2 * i, get('/slow'));
      const last = 1 + 2 * 100;
      const r = await c.outcome(last, 3000);
      assert.ok(r.reset === REFUSED_STREAM || r.reset === PROTOCOL_ERROR || r.goaway !== undefined, `the 101st stream is refused (${JSON.stringify(r)})`);
      c.close();
      await victimServed();
    });

    it('closes a connection that resets most of its streams (rapid reset, CVE-2023-44487) and counts it', async () => {
      const floodsBefore = h2.resetFloods;
      const c = await open();
      let id = 1;
      for (let i = 0; i < 400 && !c.closed; i++, id += 2) {
        c.write(
          Buffer.concat([
            frame(FrameType.Headers, END_HEADERS | END_STREAM, id, headerBlock(get('/slow'))),
            frame(FrameType.RstStream, 0, id, Buffer.from([0, 0, 0, CANCEL])),
          ]),
        );
        if (i % 50 === 49) await sleep(5);
      }
      const gone = await c.until((fs) => fs.some((f) => f.type === FrameType.GoAway), 5000);
      assert.ok(gone || c.closed, 'the connection is closed');
      const g = c.frames.find((f) => f.type === FrameType.GoAway);
      if (g !== undefined) assert.equal(g.payload.readUInt32BE(4), ENHANCE_YOUR_CALM, 'GOAWAY ENHANCE_YOUR_CALM');
      await waitFor('the flood counted', () => h2.resetFloods > floodsBefore);
      await victimServed();
    });

    it('answers 408 to a body that stalls, without blaming the backend', async () => {
      const before = rig.blame();
      const c = await open();
      c.request(1, post('/stall', [['content-length', '10']]), false);
      c.data(1, 'hello', false);
      const r = await c.response(1, 5000);
      assert.equal(r.status, 408);
      rig.assertNotBlamed(before);
    });
  });
}
