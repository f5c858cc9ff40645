import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { get } from '../helpers/http.js';
import { runSwitchyard } from '../helpers/processes.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';

/** Writes raw bytes to the proxy and returns everything it answers before closing. */
function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.write(bytes);
    setTimeout(() => s.destroy(), 3000);
  });
}

describe('bad command lines fail at start with a clear message', () => {
  const table: [string, string[], RegExp][] = [
    ['an unknown strategy', ['balancer', '--strategy', 'fastest'], /invalid value 'fastest' for --strategy: expected one of: round-robin/],
    ['a bad port', ['balancer', '--port', '99999'], /invalid value '99999' for --port: expected a port number from 0 to 65535/],
    ['a bad backend URL', ['balancer', '--backends', 'localhost:8081'], /--backends: backend 'localhost:8081'.*not an http\(s\) origin/],
    ['an unknown command', ['balance'], /unknown command 'balance'/],
  ];
  for (const [what, args, pattern] of table) {
    it(`rejects ${what}`, async () => {
      const r = await runSwitchyard(args);
      assert.equal(r.code, 2, `exit code 2, got ${r.code}; stderr: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    });
  }
  it('rejects a bad environment variable, naming it', async () => {
    const r = await runSwitchyard(['backend'], { SWITCHYARD_FAULT_ERROR_RATE: 'often' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid value 'often' for environment variable SWITCHYARD_FAULT_ERROR_RATE: expected a number from 0 to 1/);
  });
});

describe('bad requests get a 4xx and the proxy keeps serving', () => {
  let backend: TestBackend;
  let lb: TestBalancer;
  before(async () => {
    backend = await TestBackend.start('ok');
    lb = await TestBalancer.start({ backends: [backend.spec()] });
    await lb.routable(1);
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  it('answers oversized headers with 431 and a JSON error', async () => {
    const reply = await rawExchange(lb.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 431 /);
    assert.match(reply, /"code":"SWY_HEADERS_TOO_LARGE"/);
    assert.equal((await get(`${lb.url}/`)).status, 200);
  });

  it('answers a garbage request line with 400', async () => {
    const reply = await rawExchange(lb.port, 'HELLO THERE\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.match(reply, /"code":"SWY_BAD_REQUEST"/);
    assert.equal((await get(`${lb.url}/`)).status, 200);
  });

  it('rejects request smuggling shapes with 400 (Content-Length with Transfer-Encoding, two Content-Lengths)', async () => {
    const both = await rawExchange(lb.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.match(both, /^HTTP\/1\.1 400 /);
    const twice = await rawExchange(lb.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab');
    assert.match(twice, /^HTTP\/1\.1 400 /);
    assert.equal((await get(`${lb.url}/`)).status, 200);
  });

  it('answers a bad admin request with 400 and never changes the registry', async () => {
    const before = lb.registry.current().version;
    const r = await get(`${lb.adminUrl}/backends`, { method: 'POST', body: '{"url":"ftp://x"}', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.match(r.body, /SWY_ADMIN_BAD_REQUEST/);
    const broken = await get(`${lb.adminUrl}/backends`, { method: 'POST', body: '{oops', headers: { 'content-type': 'application/json' } });
    assert.equal(broken.status, 400);
    assert.match(broken.body, /not valid JSON/);
    assert.equal(lb.registry.current().version, before);
  });
});
