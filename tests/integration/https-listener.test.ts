import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, getCiphers, type PeerCertificate } from 'node:tls';
import { Agent } from 'undici';
import { TLS12_CIPHERS, TLS13_SUITES } from '../../balancer/tls/tls-policy.js';
import { get, json } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { runSwitchyard, SwitchyardProcess } from '../helpers/processes.js';
import { SETUP_NAMES, SETUPS, TestBackend } from '../helpers/stack.js';
import { TestCa } from '../helpers/tls-certs.js';
import { waitFor } from '../helpers/wait.js';

interface Handshake {
  readonly ok: boolean;
  readonly cert?: PeerCertificate;
  readonly cipher?: string;
  readonly error?: string;
}

/** One TLS handshake to the listener: what it served, or why it failed. */
function handshake(
  port: number,
  opts: { servername?: string; ca?: Buffer; ciphers?: string; minVersion?: 'TLSv1.2' | 'TLSv1.3'; maxVersion?: 'TLSv1.2' | 'TLSv1.3' },
): Promise<Handshake> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: opts.ca !== undefined, ...opts });
    const timer = setTimeout(() => s.destroy(new Error('no handshake within 5 s')), 5000);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      resolve({ ok: true, cert: s.getPeerCertificate(), cipher: s.getCipher().name });
      s.destroy();
    });
    s.once('error', (err: Error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: err.message });
    });
  });
}

function run(cmd: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

describe('the HTTPS listener', () => {
  const ca = TestCa.create();
  const caPem = readFileSync(ca.caFile);
  const a = ca.issue('a', ['a.test'], 'rsa');
  const b = ca.issue('b', ['b.test', '*.b.test'], 'ec');
  const cleanup: (() => Promise<unknown>)[] = [];
  let backend: TestBackend;

  before(async () => {
    backend = await TestBackend.start('tls-backend');
    cleanup.push(() => backend.close());
  });
  after(async () => {
    for (const c of cleanup.reverse()) await c();
    ca.close();
  });

  async function balancer(extra: readonly string[]): Promise<{ proc: SwitchyardProcess; url: string; tlsPort: number }> {
    const [port, adminPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
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
      ...extra,
    ]);
    cleanup.push(() => proc.kill('SIGKILL'));
    await proc.waitReady(`http://127.0.0.1:${adminPort}`, 1);
    return { proc, url: `http://127.0.0.1:${port}`, tlsPort };
  }

  for (const setup of SETUP_NAMES) {
    it(`${setup}: serves each name its certificate (SNI), chains verified by Node and curl, with the answers plain HTTP gets`, async () => {
      const { engine, listener } = SETUPS[setup];
      const lb = await balancer(['--engine', engine, '--listener', listener, '--tls-cert', `${a.cert}:${a.key},${b.cert}:${b.key}`]);
      const served = async (servername: string, verify = true): Promise<string> => {
        const h = await handshake(lb.tlsPort, { servername, ...(verify ? { ca: caPem } : {}) });
        assert.ok(h.ok, `handshake for ${servername}: ${h.error}`);
        return h.cert!.subject.CN as string;
      };
      assert.equal(await served('a.test'), 'a.test');
      assert.equal(await served('b.test'), 'b.test');
      assert.equal(await served('x.b.test'), 'b.test', 'a wildcard covers one label');
      assert.equal(await served('y.x.b.test', false), 'a.test', 'and no more: the first certificate then');

      const curl = await run('curl', ['-sS', '--cacert', ca.caFile, '--resolve', `b.test:${lb.tlsPort}:127.0.0.1`, `https://b.test:${lb.tlsPort}/echo`]);
      assert.equal(curl.code, 0, curl.out);
      assert.equal((JSON.parse(curl.out) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');

      const client = new Agent({ connect: { ca: caPem, servername: 'a.test' } });
      cleanup.push(() => client.close());
      const https = `https://127.0.0.1:${lb.tlsPort}`;
      const viaTls = json<{ headers: Record<string, string> }>(await get(`${https}/echo`, { dispatcher: client }));
      const plain = json<{ headers: Record<string, string> }>(await get(`${lb.url}/echo`));
      assert.equal(viaTls.headers['x-forwarded-proto'], 'https');
      assert.equal(plain.headers['x-forwarded-proto'], 'http');
      // The same refusals: a request the policy refuses, and a header block past the limit.
      for (const [path, headers] of [
        ['/', { 'x-big': 'x'.repeat(20_000) }],
        ['/', Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-h${i}`, 'v']))],
      ] as const) {
        const overTls = await get(`${https}${path}`, { dispatcher: client, headers }).catch((err: Error) => ({ status: -1, headers: {}, body: err.message }));
        const overPlain = await get(`${lb.url}${path}`, { headers }).catch((err: Error) => ({ status: -1, headers: {}, body: err.message }));
        assert.equal(overTls.status, overPlain.status, `${JSON.stringify(Object.keys(headers))}: ${overTls.body} / ${overPlain.body}`);
        assert.ok(overTls.status >= 400 && overTls.status < 500, `refused with a 4xx (${overTls.status})`);
      }
    });
  }

  it('redirects plain HTTP to HTTPS (not ACME challenges, not what a trusted proxy took over TLS) and sends HSTS over HTTPS, on every engine', async () => {
    for (const setup of SETUP_NAMES) {
      const { engine, listener } = SETUPS[setup];
      const lb = await balancer([
        '--engine',
        engine,
        '--listener',
        listener,
        '--tls-cert',
        `${a.cert}:${a.key}`,
        '--https-redirect',
        '--hsts',
        '24h',
        '--hsts-include-subdomains',
        '--trusted-proxies',
        '127.0.0.1',
        '--via-name',
        'swy-tls-test',
      ]);
      const plainPort = new URL(lb.url).port;
      const moved = await get(`${lb.url}/x/y?z=1`, { headers: { host: `a.test:${plainPort}` } });
      assert.equal(moved.status, 308, `${setup}: ${moved.body}`);
      assert.equal(moved.headers.location, `https://a.test:${lb.tlsPort}/x/y?z=1`);
      assert.equal(moved.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
      assert.equal((await get(`${lb.url}/.well-known/acme-challenge/token`)).status, 200, 'an ACME challenge is served over plain HTTP');
      // The test client is a trusted proxy here: what it took over TLS is not redirected.
      const proxied = await get(`${lb.url}/`, { headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(proxied.status, 200);
      assert.equal(proxied.headers['strict-transport-security'], 'max-age=86400; includeSubDomains');
      const client = new Agent({ connect: { ca: caPem, servername: 'a.test' } });
      cleanup.push(() => client.close());
      const secure = await get(`https://127.0.0.1:${lb.tlsPort}/`, { dispatcher: client });
      assert.equal(secure.status, 200);
      assert.equal(secure.headers['strict-transport-security'], 'max-age=86400; includeSubDomains');
      // A request the policy refuses (it names this balancer in Via: a loop).
      const refused = await get(`https://127.0.0.1:${lb.tlsPort}/`, { dispatcher: client, headers: { via: '1.1 swy-tls-test' } });
      assert.equal(refused.status, 508);
      assert.equal(refused.headers['strict-transport-security'], 'max-age=86400; includeSubDomains', `${setup}: errors over HTTPS carry it too`);
      await lb.proc.kill('SIGTERM');
    }
  });

  it('offers TLS 1.2 and 1.3 only, with exactly the documented ciphers', async () => {
    const lb = await balancer(['--tls-cert', `${a.cert}:${a.key},${b.cert}:${b.key}`]);
    // openssl's own client, allowed everything it has: TLS 1.1 is refused.
    const old = await run('openssl', ['s_client', '-connect', `127.0.0.1:${lb.tlsPort}`, '-servername', 'a.test', '-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0']);
    assert.notEqual(old.code, 0, old.out);
    assert.doesNotMatch(old.out, /Cipher is (?!\(NONE\))/);
    // TLS 1.2: every cipher this OpenSSL knows, one at a time, against the RSA (a.test) and the ECDSA (b.test) certificate.
    const accepted12 = new Set<string>();
    for (const cipher of getCiphers().filter((c) => !c.startsWith('tls_'))) {
      for (const servername of ['a.test', 'b.test']) {
        const h = await handshake(lb.tlsPort, { servername, ciphers: cipher.toUpperCase(), maxVersion: 'TLSv1.2' });
        if (h.ok) accepted12.add(h.cipher!);
      }
    }
    assert.deepEqual([...accepted12].sort(), [...TLS12_CIPHERS].sort());
    const accepted13 = new Set<string>();
    for (const suite of [...TLS13_SUITES, 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256']) {
      const h = await handshake(lb.tlsPort, { servername: 'a.test', ciphers: suite, minVersion: 'TLSv1.3' });
      if (h.ok) accepted13.add(h.cipher!);
    }
    assert.deepEqual([...accepted13].sort(), [...TLS13_SUITES].sort());
  });

  it('serves a replaced certificate to new connections under load with no failed request, and refuses a mismatched pair, keeping the old', async () => {
    // Chain and key in one file, replaced by rename as a certificate tool would.
    const combined = join(ca.dir, 'live.pem');
    const install = (cert: string, key: string): void => {
      writeFileSync(`${combined}.new`, Buffer.concat([readFileSync(cert), readFileSync(key)]));
      renameSync(`${combined}.new`, combined);
    };
    install(a.cert, a.key);
    const lb = await balancer(['--tls-cert', combined, '--tls-reload-interval', '100ms']);
    const serial = async (): Promise<string> => {
      const h = await handshake(lb.tlsPort, { servername: 'a.test', ca: caPem });
      assert.ok(h.ok, h.error);
      return h.cert!.serialNumber;
    };
    const first = await serial();

    const kept = new Agent({ connect: { ca: caPem, servername: 'a.test' }, connections: 4 });
    cleanup.push(() => kept.close());
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const deadline = Date.now() + 30_000;
    const worker = async (fresh: boolean): Promise<void> => {
      for (let n = 0; n < 50_000 && !stop && Date.now() < deadline; n++) {
        try {
          // Half the workers open a new connection (a new handshake) for every request.
          const r = await get(`https://127.0.0.1:${lb.tlsPort}/`, { dispatcher: kept, ...(fresh ? { headers: { connection: 'close' } } : {}) });
          if (r.status === 200) ok++;
          else failures.push(`${r.status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const load = Promise.all([worker(false), worker(false), worker(true), worker(true)]);
    await waitFor('load over TLS', () => ok > 200, 10_000, 20);

    const next = ca.issue('a2', ['a.test'], 'rsa');
    install(next.cert, next.key);
    await waitFor('the new certificate on new connections', async () => (await serial()) !== first, 10_000, 50);
    const second = await serial();
    const atReload = ok;
    await waitFor('more load after the reload', () => ok > atReload + 200, 10_000, 20);

    // A certificate with someone else's key: refused, the one before stays.
    const other = ca.issue('other', ['a.test'], 'rsa');
    install(other.cert, next.key);
    await lb.proc.waitForLog('TLS certificates not reloaded: the ones loaded before are still served', 10_000);
    assert.equal(await serial(), second);
    const atRefusal = ok;
    await waitFor('more load after the refusal', () => ok > atRefusal + 200, 10_000, 20);
    stop = true;
    await load;
    process.stdout.write(`# certificate reload under load: ${ok} requests over TLS, ${failures.length} failed\n`);
    assert.deepEqual(failures.slice(0, 10), [], 'no request failed');
    assert.ok(lb.proc.lines.some((l) => l.msg === 'TLS certificates reloaded'));
  });

  it('fails the start, naming the flag, on a certificate it cannot serve or a missing one', async () => {
    const mismatched = await runSwitchyard(['balancer', '--port', '0', '--admin-port', '0', '--tls-port', '0', '--tls-cert', `${a.cert}:${b.key}`]);
    assert.notEqual(mismatched.code, 0);
    assert.match(mismatched.stderr, /--tls-cert: TLS certificate .*a\.pem:.*b\.key/);
    const missing = await runSwitchyard(['balancer', '--port', '0', '--admin-port', '0', '--tls-port', '0', '--tls-cert', join(ca.dir, 'none.pem')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--tls-cert: TLS certificate .*none\.pem/);
    const noCert = await runSwitchyard(['balancer', '--port', '0', '--admin-port', '0', '--tls-port', '0']);
    assert.equal(noCert.code, 2);
    assert.match(noCert.stderr, /--tls-port needs --tls-cert/);
  });

  it('closes a connection that sends plain HTTP or stalls its handshake', async () => {
    const lb = await balancer(['--tls-cert', `${a.cert}:${a.key}`, '--tls-handshake-timeout', '300ms']);
    const closes = (send: string | undefined): Promise<number> =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        const s = tcpConnect({ host: '127.0.0.1', port: lb.tlsPort }, () => {
          if (send !== undefined) s.write(send);
        });
        s.on('data', () => undefined);
        s.on('error', () => undefined);
        s.on('close', () => resolve(Date.now() - t0));
        setTimeout(() => reject(new Error('still open after 5 s')), 5000).unref();
      });
    assert.ok((await closes('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n')) < 2000);
    const stalled = await closes(undefined);
    assert.ok(stalled >= 250 && stalled < 2000, `a silent client is closed after the handshake timeout (${stalled} ms)`);
    // The listener still serves.
    assert.ok((await handshake(lb.tlsPort, { servername: 'a.test', ca: caPem })).ok);
  });
});
