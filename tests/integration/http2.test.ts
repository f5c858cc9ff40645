import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Agent } from 'undici';
import { FrameType, RawH2 } from '../helpers/h2-frames.js';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { SETUP_NAMES, SETUPS, TestBackend } from '../helpers/stack.js';
import { TestCa } from '../helpers/tls-certs.js';

/**
 * HTTP/2 to clients, in a real balancer process: h2 chosen by ALPN on the
 * HTTPS port (Node's http2 client and curl verify the chain), cleartext h2 on
 * --h2c-port, on every engine. An HTTP/2 request gets what the same request
 * gets over HTTP/1.1: the same fields, the same errors, retries, the explain
 * header and the access log, because both go through the one request core.
 */

interface H2Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function h2request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer | string): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: IncomingHttpHeaders = {};
    req.on('response', (h) => (head = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks).toString() }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

function run(cmd: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** Response fields that differ by protocol, not by what the balancer decided. */
const PROTOCOL_FIELDS = new Set([':status', 'connection', 'keep-alive', 'transfer-encoding', 'date']);
const fieldNames = (h: Record<string, unknown>): string[] =>
  Object.keys(h)
    .filter((k) => !PROTOCOL_FIELDS.has(k))
    .sort();

describe('HTTP/2 to clients', () => {
  const ca = TestCa.create();
  const caPem = readFileSync(ca.caFile);
  const cert = ca.issue('a', ['a.test'], 'ec');
  const cleanup: (() => Promise<unknown>)[] = [];
  let backend: TestBackend;

  before(async () => {
    backend = await TestBackend.start('h2-backend');
    cleanup.push(() => backend.close());
  });
  after(async () => {
    for (const c of cleanup.reverse()) await c();
    ca.close();
  });

  async function balancer(extra: readonly string[], backends = `b=${backend.url}`) {
    const [port, adminPort, tlsPort, h2cPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const proc = new SwitchyardProcess([
      'balancer',
      '--backends',
      backends,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      '--tls-port',
      String(tlsPort),
      '--tls-cert',
      `${cert.cert}:${cert.key}`,
      '--h2c-port',
      String(h2cPort),
      ...extra,
    ]);
    cleanup.push(() => proc.kill('SIGKILL'));
    await proc.waitReady(`http://127.0.0.1:${adminPort}`, 1);
    const sessions: ClientHttp2Session[] = [];
    const session = (tls = true): ClientHttp2Session => {
      const s = tls ? h2connect(`https://a.test:${tlsPort}`, { ca: caPem, servername: 'a.test', host: '127.0.0.1' }) : h2connect(`http://127.0.0.1:${h2cPort}`);
      s.on('error', () => undefined);
      sessions.push(s);
      return s;
    };
    cleanup.push(async () => {
      for (const s of sessions) s.destroy();
    });
    return { proc, url: `http://127.0.0.1:${port}`, tlsPort, h2cPort, session };
  }

  for (const setup of SETUP_NAMES) {
    it(`${setup}: answers over h2 (TLS, verified) and h2c what HTTP/1.1 gets: fields, errors, explain header, access log`, async () => {
      const { engine, listener } = SETUPS[setup];
      const lb = await balancer([
        '--engine',
        engine,
        '--listener',
        listener,
        '--explain-header',
        'x-lb-explain',
        '--max-body-size',
        '1000',
        '--access-log',
        '--via-name',
        'swy-h2-test',
      ]);
      const s = lb.session();
      const ok = await h2request(s, { ':path': '/echo?q=1', 'x-a': '1', cookie: ['a=1', 'b=2'] });
      assert.equal(ok.status, 200, ok.body);
      const seen = JSON.parse(ok.body) as { method: string; url: string; headers: Record<string, string> };
      assert.equal(seen.url, '/echo?q=1');
      assert.equal(seen.headers.host, `a.test:${lb.tlsPort}`, ':authority is the Host the backend gets');
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.equal(seen.headers['x-a'], '1');
      assert.equal(seen.headers.cookie, 'a=1; b=2');

      // The same request over HTTP/1.1 on the same port: the same response fields.
      const h1 = new Agent({ connect: { ca: caPem, servername: 'a.test' } });
      cleanup.push(() => h1.close());
      const overH1 = await get(`https://127.0.0.1:${lb.tlsPort}/echo?q=1`, { dispatcher: h1, headers: { 'x-a': '1' } });
      assert.deepEqual(fieldNames(ok.headers), fieldNames(overH1.headers), 'the same response fields over h2 and HTTP/1.1');

      // The same errors: a loop (508), a body past --max-body-size (413), too many fields (431); the same JSON body.
      const cases: [string, OutgoingHttpHeaders, string | undefined, Record<string, string>, string | undefined][] = [
        ['loop', { ':path': '/', via: '1.1 swy-h2-test' }, undefined, { via: '1.1 swy-h2-test' }, undefined],
        ['too large', { ':path': '/echo', ':method': 'POST', 'content-length': '2000' }, 'x'.repeat(2000), { 'content-length': '2000' }, 'x'.repeat(2000)],
        [
          'too many fields',
          { ':path': '/', ...Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-h${i}`, 'v'])) },
          undefined,
          Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-h${i}`, 'v'])),
          undefined,
        ],
      ];
      for (const [name, h2h, h2body, h1h, h1body] of cases) {
        const a = await h2request(s, h2h, h2body);
        const b = await get(`https://127.0.0.1:${lb.tlsPort}${String(h2h[':path'])}`, {
          dispatcher: h1,
          headers: h1h,
          ...(h1body ? { method: 'POST', body: h1body } : {}),
        });
        assert.equal(a.status, b.status, `${name}: the same status`);
        assert.ok(a.status >= 400, `${name}: refused (${a.status})`);
        const ja = JSON.parse(a.body) as { error: { code: string } };
        const jb = JSON.parse(b.body) as { error: { code: string } };
        // (http.Server itself answers too many fields over HTTP/1.1, as SWY_HEADERS_TOO_LARGE; both are 431.)
        if (!(name === 'too many fields' && listener === 'http-server'))
          assert.equal(ja.error.code, jb.error.code, `${name}: the same error code (${a.body} / ${b.body})`);
        assert.equal(a.headers['x-request-id'] !== undefined, true);
      }

      const explained = await h2request(s, { ':path': '/', 'x-lb-explain': '1' });
      assert.match(String(explained.headers['x-lb-decision']), /^strategy=round-robin; picked=b; attempt=1/);

      // Cleartext h2 (prior knowledge) on its own port.
      const clear = await h2request(lb.session(false), { ':path': '/echo' });
      assert.equal(clear.status, 200);
      assert.equal((JSON.parse(clear.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'http');

      // curl, over TLS with the chain verified, and over h2c.
      const c1 = await run('curl', [
        '-sS',
        '--http2',
        '--cacert',
        ca.caFile,
        '--resolve',
        `a.test:${lb.tlsPort}:127.0.0.1`,
        '-o',
        '/dev/null',
        '-w',
        '%{http_version} %{http_code}',
        `https://a.test:${lb.tlsPort}/`,
      ]);
      assert.equal(c1.out, '2 200', c1.out);
      const c2 = await run('curl', [
        '-sS',
        '--http2-prior-knowledge',
        '-o',
        '/dev/null',
        '-w',
        '%{http_version} %{http_code}',
        `http://127.0.0.1:${lb.h2cPort}/`,
      ]);
      assert.equal(c2.out, '2 200', c2.out);

      await lb.proc.waitForLog('request', 10_000, (l) => l.component === 'access' && l.path === '/echo?q=1');
      await lb.proc.kill('SIGTERM');
    });
  }

  it('retries over h2 as over HTTP/1.1, and streams large bodies both ways under concurrent load: 0 failed', async () => {
    const dead = await freePort();
    const lb = await balancer(['--health-checks=false', '--retries', '2'], `dead=http://127.0.0.1:${dead},b=${backend.url}`);
    const sessions = [lb.session(), lb.session(), lb.session(false)];
    let ok = 0;
    const failures: string[] = [];
    const body = Buffer.alloc(300_000, 0x7a);
    const work = async (s: ClientHttp2Session, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const big = i % 10 === 0;
        const r = await h2request(s, big ? { ':path': '/echo', ':method': 'PUT' } : { ':path': `/n/${i}` }, big ? body : undefined).catch((err: Error) => ({
          status: -1,
          body: err.message,
          headers: {},
        }));
        if (r.status !== 200) failures.push(`${r.status} ${r.body.slice(0, 100)}`);
        else if (big && (JSON.parse(r.body) as { bodyBytes: number }).bodyBytes !== body.length) failures.push('body cut');
        else ok++;
      }
    };
    // 3 connections × 20 concurrent streams × 25 requests each.
    await Promise.all(sessions.flatMap((s) => Array.from({ length: 20 }, () => work(s, 25))));
    assert.deepEqual(failures, []);
    assert.equal(ok, 1500);
    console.log(`# h2 load: ${ok} answered over 3 connections (2 TLS, 1 h2c), every request to the dead backend retried, 0 failed`);
  });

  it("sends answers' headers without the HPACK dynamic table by default (as nginx), and indexes them with --h2-header-table-size", async () => {
    // The header block of two answers on one connection: with a dynamic table the second reuses the first's fields.
    const blocks = async (extra: readonly string[]): Promise<number[]> => {
      const lb = await balancer(extra);
      const c = await RawH2.open(lb.h2cPort);
      try {
        const sizes: number[] = [];
        for (const id of [1, 3]) {
          c.request(id, [
            [':method', 'GET'],
            [':scheme', 'http'],
            [':path', '/'],
            [':authority', 'a.test'],
          ]);
          const r = await c.response(id);
          assert.equal(r.status, 200, JSON.stringify({ ...r, body: r.body.toString() }));
          sizes.push(c.frames.find((f) => f.type === FrameType.Headers && f.streamId === id)!.payload.length);
        }
        return sizes;
      } finally {
        c.close();
      }
    };
    const [plain1, plain2] = (await blocks([])) as [number, number];
    assert.ok(plain2 >= plain1 - 4, `no dynamic table: the second answer's headers take as many bytes (${plain1}, then ${plain2})`);
    const [indexed1, indexed2] = (await blocks(['--h2-header-table-size', '4096'])) as [number, number];
    assert.ok(indexed2 < indexed1 / 2, `with a table the second answer's headers are mostly indexed (${indexed1}, then ${indexed2})`);
  });

  it('with --no-http2 offers HTTP/1.1 only on the HTTPS port', async () => {
    const lb = await balancer(['--no-http2']);
    const alpn = await new Promise<string | false>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: lb.tlsPort, ca: caPem, servername: 'a.test', ALPNProtocols: ['h2', 'http/1.1'] });
      s.once('secureConnect', () => {
        resolve(s.alpnProtocol ?? false);
        s.destroy();
      });
      s.once('error', reject);
    });
    assert.equal(alpn, 'http/1.1');
    const c = await run('curl', [
      '-sS',
      '--http2',
      '--cacert',
      ca.caFile,
      '--resolve',
      `a.test:${lb.tlsPort}:127.0.0.1`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `https://a.test:${lb.tlsPort}/`,
    ]);
    assert.equal(c.out, '1.1 200');
  });

  it('on SIGTERM sends GOAWAY, lets the streams in flight finish, and exits', async () => {
    const lb = await balancer(['--shutdown-timeout', '10s']);
    const s = lb.session();
    const goaway = new Promise<number>((resolve) => s.once('goaway', (code: number) => resolve(code)));
    const slow = h2request(s, { ':path': '/delay/1500' });
    await h2request(s, { ':path': '/' });
    const exit = lb.proc.kill('SIGTERM');
    assert.equal(await goaway, 0, 'GOAWAY NO_ERROR');
    const r = await slow;
    assert.equal(r.status, 200, 'the stream in flight finished');
    assert.equal((await exit).code, 0);
  });
});
