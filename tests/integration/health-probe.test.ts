import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { probe, probeTarget } from '../../balancer/health/http-probe.js';
import { freePort } from '../helpers/ports.js';
import { RawTcpServers } from '../helpers/tcp-servers.js';

/*
 * The active health check's probe against real sockets: what a backend may
 * answer (or fail to answer), and the verdict for each.
 */
describe('the health-check probe', () => {
  const servers: HttpServer[] = [];
  const raw = new RawTcpServers();
  after(async () => {
    await raw.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });

  /** A raw TCP server that answers each connection with `onConnection`. */
  const tcp = (onConnection: (s: Socket) => void): Promise<string> => raw.start(onConnection);

  it('sends one GET with Host and Connection: close, and reads the status', async () => {
    let seen: { method?: string; url?: string; host?: string; connection?: string; ua?: string } = {};
    const srv = createHttpServer((req, res) => {
      seen = { method: req.method, url: req.url, host: req.headers.host, connection: req.headers.connection, ua: req.headers['user-agent'] };
      res.statusCode = req.url === '/health' ? 204 : 500;
      res.end();
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const origin = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    assert.deepEqual(await probe(probeTarget(origin, '/health', 'switchyard-health-check')!, 1000), { status: 204 });
    assert.deepEqual(seen, { method: 'GET', url: '/health', host: new URL(origin).host, connection: 'close', ua: 'switchyard-health-check' });
    assert.deepEqual(await probe(probeTarget(origin, '/other', 'x')!, 1000), { status: 500 });
  });

  it('reads a status line split over several packets, with or without a reason phrase', async () => {
    const url = await tcp((s) => {
      s.write('HTTP/1.1 2');
      setTimeout(() => s.end('03\r\ncontent-length: 0\r\n\r\n'), 20);
    });
    assert.deepEqual(await probe(probeTarget(url, '/health', 'x')!, 1000), { status: 203 });
    const reason = await tcp((s) => s.end('HTTP/1.0 301 Moved\r\n\r\n'));
    assert.deepEqual(await probe(probeTarget(reason, '/health', 'x')!, 1000), { status: 301 });
  });

  it('fails, never hangs, on every answer that is not a status line', async () => {
    const cases: [string, (s: Socket) => void, string][] = [
      ['garbage', (s) => s.end('SSH-2.0-OpenSSH\r\n'), 'bad status line'],
      ['an endless first line', (s) => s.end('HTTP/1.1 200 ' + 'x'.repeat(5000)), 'bad status line'],
      ['a close without a byte', (s) => s.end(), 'closed before a status line'],
      ['a reset', (s) => s.resetAndDestroy(), 'ECONNRESET'],
      ['silence', () => undefined, 'timeout'],
    ];
    for (const [what, answer, error] of cases) {
      const url = await tcp(answer);
      const t0 = performance.now();
      const r = await probe(probeTarget(url, '/health', 'x')!, 300);
      assert.ok(performance.now() - t0 < 2000, `${what}: bounded by the timeout`);
      assert.ok('error' in r, `${what}: a failure, got ${JSON.stringify(r)}`);
      if (error === 'ECONNRESET') assert.match(r.error, /ECONNRESET|closed before a status line/, what);
      else assert.equal(r.error, error, what);
    }
  });

  it('skips interim 1xx responses and judges the final status: 103 then 200 passes, 100 then 503 fails', async () => {
    const hints = await tcp((s) => s.end('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    assert.deepEqual(await probe(probeTarget(hints, '/health', 'x')!, 1000), { status: 200 });
    const cont = await tcp((s) => s.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n'));
    assert.deepEqual(await probe(probeTarget(cont, '/health', 'x')!, 1000), { status: 503 });
  });

  it('reads interim responses split over packets, several in a row, and takes 101 as final', async () => {
    const split = await tcp((s) => {
      s.write('HTTP/1.1 100 Continue\r\n');
      setTimeout(() => s.write('\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.js>'), 20);
      setTimeout(() => s.write('; rel=preload\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 2'), 40);
      setTimeout(() => s.end('04 No Content\r\n\r\n'), 60);
    });
    assert.deepEqual(await probe(probeTarget(split, '/health', 'x')!, 1000), { status: 204 });
    // Nothing asked to switch protocols: a 101 is the answer, and the checker fails it (not 2xx/3xx).
    const switching = await tcp((s) => s.end('HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'));
    assert.deepEqual(await probe(probeTarget(switching, '/health', 'x')!, 1000), { status: 101 });
  });

  it('fails, within its head budget, a backend that sends interim responses and never a final one', async () => {
    const cases: [string, (s: Socket) => void, string][] = [
      ['100 after 100', (s) => s.end('HTTP/1.1 100 Continue\r\n\r\n'.repeat(1000)), 'interim responses too long'],
      [
        'a 103 with endless headers',
        (s) => s.end('HTTP/1.1 103 Early Hints\r\n' + 'Link: </a.js>; rel=preload\r\n'.repeat(1000)),
        'interim responses too long',
      ],
      ['a 100 then garbage', (s) => s.end('HTTP/1.1 100 Continue\r\n\r\nSSH-2.0-OpenSSH\r\n'), 'bad status line'],
      ['a 100 then silence', (s) => s.write('HTTP/1.1 100 Continue\r\n\r\n'), 'timeout'],
      ['a 100 then a close', (s) => s.end('HTTP/1.1 100 Continue\r\n\r\n'), 'closed before a status line'],
    ];
    for (const [what, answer, error] of cases) {
      const url = await tcp(answer);
      const t0 = performance.now();
      assert.deepEqual(await probe(probeTarget(url, '/health', 'x')!, 300), { error }, what);
      assert.ok(performance.now() - t0 < 2000, `${what}: bounded by the timeout`);
    }
  });

  it('resolves, never rejects, when connect refuses the address outright', async () => {
    const head = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    assert.deepEqual(await probe({ tls: false, host: '127.0.0.1', port: -1, head }, 1000), { error: 'ERR_SOCKET_BAD_PORT' });
    assert.deepEqual(await probe({ tls: true, host: '127.0.0.1', port: 70_000, head }, 1000), { error: 'ERR_SOCKET_BAD_PORT' });
  });

  it('says ECONNREFUSED when nothing listens, so the checker can take the backend out at once', async () => {
    const port = await freePort();
    assert.deepEqual(await probe(probeTarget(`http://127.0.0.1:${port}`, '/health', 'x')!, 1000), { error: 'ECONNREFUSED' });
  });

  it('builds targets for http, https and IPv6 origins, and refuses others', () => {
    assert.deepEqual(probeTarget('http://[::1]:8081', '/h', 'x'), {
      tls: false,
      host: '::1',
      port: 8081,
      head: 'GET /h HTTP/1.1\r\nHost: [::1]:8081\r\nUser-Agent: x\r\nAccept: */*\r\nConnection: close\r\n\r\n',
    });
    assert.equal(probeTarget('https://api.example', '/h', 'x')?.port, 443);
    assert.equal(probeTarget('https://api.example', '/h', 'x')?.tls, true);
    assert.equal(probeTarget('http://api.example', '/h', 'x')?.port, 80);
    assert.equal(probeTarget('ftp://api.example', '/h', 'x'), undefined);
    assert.equal(probeTarget('not a url', '/h', 'x'), undefined);
  });
});
