import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { Agent, request } from 'undici';
import { readIntoSharedBuffer, SHARED_READ_BUFFER } from '../../balancer/forward/http1/shared-read.js';
import { RawClient } from '../helpers/raw-http.js';
import { SETUP_NAMES, SETUPS, TestBackend, TestBalancer } from '../helpers/stack.js';

// The llhttp listener reads every plain client connection into one buffer it
// shares with all of them (no Buffer per read). Request bodies below are
// large, interleaved over many connections, some chunked and some pipelined
// behind each other in one write: a byte kept by reference instead of copied
// would reach a backend as part of another request, and show as a wrong digest.

const BODIES = [randomBytes(300_000), randomBytes(70_001), randomBytes(1_000), randomBytes(5)];
const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');

interface Echo {
  readonly method: string;
  readonly url: string;
  readonly bodyBytes: number;
  readonly bodySha1: string;
}

describe('client connections read into one shared buffer', () => {
  it('is what this Node does with an accepted plain socket: a change in its internals fails here, not silently', async () => {
    const server = createServer();
    const reads: string[] = [];
    let engaged: boolean[] = [];
    const served = new Promise<Socket>((resolve) =>
      server.once('connection', (s: Socket) => {
        const onRead = function (this: Socket, n: number): boolean {
          assert.equal(this, s);
          reads.push(SHARED_READ_BUFFER.toString('latin1', 0, n));
          if (reads.join('') === 'hello') s.end('bye');
          return true;
        };
        engaged = [readIntoSharedBuffer(s, onRead), readIntoSharedBuffer(s, onRead)];
        resolve(s);
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const c = connect(port, '127.0.0.1');
    const answer = new Promise<string>((resolve) => {
      let text = '';
      c.on('data', (d: Buffer) => (text += d.toString('latin1')));
      c.on('end', () => resolve(text));
    });
    c.write('hello');
    await served;
    assert.equal(await answer, 'bye');
    c.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.deepEqual(engaged, [true, false], `node ${process.version}: the first call engages the shared buffer, a second changes nothing`);
    assert.equal(reads.join(''), 'hello');
  });

  for (const name of SETUP_NAMES) {
    it(`${name}: every request body arrives intact across interleaved, chunked and pipelined uploads`, async (t: TestContext) => {
      const backends = [await TestBackend.start('b1'), await TestBackend.start('b2')];
      const lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()), settings: { ...SETUPS[name] } });
      const agent = new Agent({ connections: 24, pipelining: 1 });
      try {
        await lb.routable(2);
        const total = 160;
        let next = 0;
        let checked = 0;
        const one = async (i: number): Promise<void> => {
          const body = BODIES[i % BODIES.length]!;
          // Every third body goes chunked, in pieces of odd sizes.
          const chunked = i % 3 === 0;
          const pieces = chunked
            ? Readable.from(Array.from({ length: Math.ceil(body.length / 9_001) }, (_, k) => body.subarray(k * 9_001, (k + 1) * 9_001)))
            : body;
          const r = await request(`http://127.0.0.1:${lb.port}/echo?i=${i}`, { method: 'POST', body: pieces, dispatcher: agent });
          assert.equal(r.statusCode, 200);
          const echo = (await r.body.json()) as Echo;
          assert.equal(echo.url, `/echo?i=${i}`);
          assert.equal(echo.bodyBytes, body.length, `request ${i}`);
          assert.equal(echo.bodySha1, sha1(body), `request ${i}: body ${i % BODIES.length}${chunked ? ', chunked' : ''}`);
          checked++;
        };
        await Promise.all(
          Array.from({ length: 24 }, async () => {
            while (next < total) await one(next++);
          }),
        );
        assert.equal(checked, total);

        // Pipelined: three requests with bodies in one write, so one read holds the end of one and the start of the next.
        const c = await RawClient.connect(lb.port);
        try {
          const small = BODIES[2]!;
          const tiny = BODIES[3]!;
          const wire = Buffer.concat([
            Buffer.from(`POST /echo?p=1 HTTP/1.1\r\nHost: t\r\nContent-Length: ${small.length}\r\n\r\n`, 'latin1'),
            small,
            Buffer.from(`POST /echo?p=2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n`, 'latin1'),
            tiny,
            Buffer.from('\r\n0\r\n\r\n', 'latin1'),
            Buffer.from(`POST /echo?p=3 HTTP/1.1\r\nHost: t\r\nContent-Length: ${small.length}\r\n\r\n`, 'latin1'),
            small,
          ]);
          c.send(wire);
          for (const [p, body] of [
            [1, small],
            [2, tiny],
            [3, small],
          ] as const) {
            const r = await c.response();
            assert.equal(r.status, 200);
            const echo = JSON.parse(r.body.toString('utf8')) as Echo;
            assert.equal(echo.url, `/echo?p=${p}`);
            assert.equal(echo.bodySha1, sha1(body), `pipelined request ${p}`);
          }
        } finally {
          c.destroy();
        }
        t.diagnostic(`${total} uploads (300 KB to 5 B, a third chunked) over 24 connections and 3 pipelined in one write: every digest matches`);
      } finally {
        await agent.close();
        await lb.close();
        for (const b of backends) await b.close();
      }
    });
  }
});
