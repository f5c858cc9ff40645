import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { freePort } from '../helpers/ports.js';
import { runSwitchyard, SwitchyardProcess } from '../helpers/processes.js';
import { SETUP_NAMES, SETUPS, TestBackend } from '../helpers/stack.js';
import { TestCa } from '../helpers/tls-certs.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 PROXY header for TCP over IPv6 from `src` (16 bytes) port 40000. */
function v2six(src: string): Buffer {
  const body = Buffer.alloc(36);
  Buffer.from(src, 'hex').copy(body, 0);
  body.writeUInt16BE(40000, 32);
  body.writeUInt16BE(80, 34);
  return Buffer.concat([SIG, Buffer.from([0x21, 0x21, 0x00, 36]), body]);
}
const V2_LOCAL = Buffer.concat([SIG, Buffer.from([0x20, 0x00, 0x00, 0x00])]);

/** Writes `chunks` (each its own write) on a new connection and reads until it closes; '' when it closed with nothing. */
function exchange(port: number, chunks: readonly (string | Buffer)[], ms = 8000): Promise<string> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (/\r\n\r\n[\s\S]*\}\s*$/.test(out) || / 40[0-9] /.test(out.split('\r\n')[0] ?? '')) s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    // Each chunk in a segment of its own (a pause between writes), as a proxy may send the header alone.
    const send = (i: number): void => {
      if (i >= chunks.length || s.destroyed) return;
      s.write(chunks[i]!);
      setTimeout(() => send(i + 1), 20);
    };
    s.on('connect', () => send(0));
  });
}

const forwardedFor = (response: string): string | undefined => {
  const body = response.slice(response.indexOf('\r\n\r\n') + 4);
  try {
    return (JSON.parse(body) as { headers: Record<string, string> }).headers['x-forwarded-for'];
  } catch {
    return undefined;
  }
};

/**
 * --proxy-protocol on every port and every engine: a trusted peer's connection
 * starts with a PROXY header (v1 or v2, in the same packet as the request or
 * alone), and the client it names is the client everywhere after; a trusted
 * peer without a valid header is closed; anyone else is never read for one.
 */
describe('the PROXY protocol', () => {
  const ca = TestCa.create();
  const cert = ca.issue('pp', ['localhost']);
  const cleanup: (() => Promise<unknown>)[] = [];
  let backend: TestBackend;

  before(async () => {
    backend = await TestBackend.start('pp-backend');
    cleanup.push(() => backend.close());
  });
  after(async () => {
    for (const c of cleanup.reverse()) await c();
    ca.close();
  });

  async function balancer(extra: readonly string[]) {
    const [port, adminPort, tlsPort, h2cPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const proc = new SwitchyardProcess([
      'balancer',
      '--backends',
      `b=${backend.url}`,
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
    return { proc, port, tlsPort, h2cPort };
  }

  const GET = 'GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n';

  for (const setup of SETUP_NAMES) {
    it(`${setup}: takes the client from v1 and v2 headers on the plain, TLS and h2c ports, and closes a trusted peer without one`, async () => {
      const { engine, listener } = SETUPS[setup];
      const lb = await balancer([
        '--engine',
        engine,
        '--listener',
        listener,
        '--proxy-protocol',
        '--trusted-proxies',
        '127.0.0.1',
        '--deny-clients',
        '203.0.113.66',
      ]);
      // v1 and the request in one write; v2 (IPv6) and the request in two.
      assert.equal(forwardedFor(await exchange(lb.port, [`PROXY TCP4 203.0.113.9 127.0.0.1 51000 80\r\n${GET}`])), '203.0.113.9');
      assert.equal(forwardedFor(await exchange(lb.port, [v2six('20010db8000000000000000000000007'), GET])), '2001:db8::7');
      // LOCAL (a health check of the proxy's own): the peer stands.
      assert.equal(forwardedFor(await exchange(lb.port, [Buffer.concat([V2_LOCAL, Buffer.from(GET)])])), '127.0.0.1');
      // The client it names is the one the rules see.
      assert.match(await exchange(lb.port, [`PROXY TCP4 203.0.113.66 127.0.0.1 1 80\r\n${GET}`]), /^HTTP\/1\.1 403 /);
      // A trusted peer without a header, or with a broken one: closed with nothing forwarded.
      const before = backend.state.requests;
      assert.equal(await exchange(lb.port, [GET]), '');
      assert.equal(await exchange(lb.port, ['PROXY TCP4 nonsense\r\n', GET]), '');
      assert.equal(backend.state.requests, before, 'nothing forwarded');

      // TLS: the header, then the handshake on the same connection.
      const overTls = await new Promise<string>((resolve, reject) => {
        const raw = tcpConnect(lb.tlsPort, '127.0.0.1', () => {
          raw.write(`PROXY TCP4 198.51.100.4 127.0.0.1 40000 443\r\n`);
          const t = tlsConnect({ socket: raw, ca: readFileSync(ca.caFile), servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => t.write(GET));
          let out = '';
          t.on('data', (d: Buffer) => (out += d.toString()));
          t.on('end', () => resolve(out));
          t.on('error', reject);
        });
      });
      assert.equal(forwardedFor(overTls), '198.51.100.4');

      // h2c: the header, then HTTP/2.
      const session = http2.connect(`http://127.0.0.1:${lb.h2cPort}`, {
        createConnection: (): Socket => {
          const s = tcpConnect(lb.h2cPort, '127.0.0.1');
          s.write('PROXY TCP4 198.51.100.5 127.0.0.1 40001 80\r\n');
          return s;
        },
      });
      session.on('error', () => undefined);
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': '/echo' });
        let out = '';
        req.on('data', (d: Buffer) => (out += d.toString()));
        req.on('end', () => resolve(out));
        req.on('error', reject);
      });
      session.close();
      assert.equal((JSON.parse(body) as { headers: Record<string, string> }).headers['x-forwarded-for'], '198.51.100.5');
      await lb.proc.kill('SIGTERM');
    });
  }

  it('never reads a header from a peer it does not trust: the bytes are a bad request, the peer is the client', async () => {
    const lb = await balancer(['--proxy-protocol', '--trusted-proxies', '10.0.0.0/8']);
    assert.match(await exchange(lb.port, [`PROXY TCP4 203.0.113.9 127.0.0.1 51000 80\r\n${GET}`]), /^HTTP\/1\.1 400 /);
    assert.equal(forwardedFor(await exchange(lb.port, [GET])), '127.0.0.1');
    await lb.proc.kill('SIGTERM');
  });

  it('closes a trusted peer that does not finish its header within 5 s', async () => {
    const lb = await balancer(['--proxy-protocol', '--trusted-proxies', '127.0.0.1']);
    const started = Date.now();
    assert.equal(await exchange(lb.port, ['PROXY TCP4 203.0.113.9'], 10_000), '');
    const took = Date.now() - started;
    assert.ok(took >= 4500 && took < 8000, `closed after ${took} ms`);
    await lb.proc.kill('SIGTERM');
  });

  it('refuses --proxy-protocol without --trusted-proxies, naming the flag', async () => {
    const r = await runSwitchyard(['balancer', '--port', '0', '--admin-port', '0', '--proxy-protocol']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--proxy-protocol needs --trusted-proxies/);
  });
});
