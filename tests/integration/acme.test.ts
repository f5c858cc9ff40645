import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, type PeerCertificate } from 'node:tls';
import { Redis } from 'ioredis';
import { get } from '../helpers/http.js';
import { Pebble } from '../helpers/pebble.js';
import { freePort } from '../helpers/ports.js';
import { runSwitchyard, SwitchyardProcess } from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis-server.js';
import { TestBackend } from '../helpers/stack.js';
import { TestCa } from '../helpers/tls-certs.js';
import { waitFor } from '../helpers/wait.js';

/** The certificate a TLS handshake for `servername` is served, verified against `ca`. */
function served(host: string, port: number, servername: string, ca: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, servername, ca });
    const timer = setTimeout(() => s.destroy(new Error('no handshake within 5 s')), 5000);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(s.getPeerCertificate());
      s.destroy();
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Automatic certificates against a real ACME server (Debian's pebble, offline,
 * with pebble-challtestsrv as its DNS), two balancer processes on one real
 * Redis: one orders, the CA's HTTP-01 checks reach both (a.test resolves to
 * one balancer, b.test to the other), both serve the certificate, renewal
 * replaces it everywhere, and its key is sealed in Redis.
 */
describe('automatic certificates (ACME) against pebble', () => {
  const ca = TestCa.create();
  const cleanup: (() => Promise<unknown> | void)[] = [];
  let redis: RedisServer;
  let backend: TestBackend;
  let pebble: Pebble;
  let port = 0;
  const ACME_KEY = 'a-test-secret-of-some-length';

  before(async () => {
    redis = await RedisServer.start();
    backend = await TestBackend.start('acme-b');
    port = await freePort();
    pebble = await Pebble.start(ca, port);
    cleanup.push(
      () => redis.close(),
      () => backend.close(),
      () => pebble.close(),
    );
    // One name for each balancer: the CA's checks for a.test reach the first, for b.test the second.
    await pebble.resolve('a.test', '127.0.0.2');
    await pebble.resolve('b.test', '127.0.0.3');
  });
  after(async () => {
    for (const c of cleanup.reverse()) await c();
    ca.close();
  });

  async function balancer(host: string, extra: readonly string[] = []) {
    const [adminPort, tlsPort] = [await freePort(), await freePort()];
    const proc = new SwitchyardProcess(
      [
        'balancer',
        '--redis',
        redis.url,
        '--backends',
        `b=${backend.url}`,
        '--host',
        host,
        '--port',
        String(port),
        '--admin-port',
        String(adminPort),
        '--tls-port',
        String(tlsPort),
        '--acme-domains',
        'a.test,b.test',
        '--acme-directory',
        pebble.directory,
        '--acme-ca-cert',
        ca.caFile,
        '--acme-email',
        'ops@a.test',
        ...extra,
      ],
      { SWITCHYARD_ACME_KEY: ACME_KEY },
    );
    cleanup.push(() => void proc.kill('SIGKILL'));
    await proc.waitReady(`http://127.0.0.1:${adminPort}`, 1);
    return { proc, host, tlsPort, url: `http://${host}:${port}` };
  }

  it('orders a certificate, answers HTTP-01 on every balancer, serves it on both, and renews it', async () => {
    // Renewal is due as soon as a certificate is there (pebble issues for years): every check orders again.
    const renewing = ['--acme-renew-before', '87600h', '--acme-check-interval', '3s'];
    const b = await balancer('127.0.0.3', ['--acme-check-interval', '1h']);
    const a = await balancer('127.0.0.2', renewing);
    await a.proc.waitForLog('ACME certificate issued and stored', 60_000);
    const first = await waitFor(
      'both balancers to serve the certificate',
      async () => {
        try {
          const [ca1, cb1] = await Promise.all([served(a.host, a.tlsPort, 'a.test', pebble.root), served(b.host, b.tlsPort, 'b.test', pebble.root)]);
          return ca1.serialNumber === cb1.serialNumber ? ca1 : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
    );
    assert.match(first.subjectaltname ?? '', /DNS:a\.test.*DNS:b\.test|DNS:b\.test.*DNS:a\.test/);
    // pebble checked a.test through the first balancer and b.test through the second before it issued: whichever
    // of them ordered, the other answered a challenge it learnt from Redis.
    // Renewal: a new serial, loaded by b from Redis.
    const renewed = await waitFor(
      'a renewed certificate on the second balancer',
      async () => {
        try {
          const c = await served(b.host, b.tlsPort, 'a.test', pebble.root);
          return c.serialNumber !== first.serialNumber ? c : undefined;
        } catch {
          return undefined;
        }
      },
      60_000,
      250,
    );
    assert.notEqual(renewed.serialNumber, first.serialNumber);
    // Plain HTTP keeps working (and is not redirected for challenges).
    assert.equal((await get(`${a.url}/`)).status, 200);
    await a.proc.kill('SIGTERM');
    await b.proc.kill('SIGTERM');
  });

  it('keeps private keys sealed in Redis, and the certificate chain in the clear', async () => {
    const r = new Redis(redis.url);
    try {
      const cert = await r.hgetall('switchyard:acme:cert:a.test,b.test');
      assert.match(cert.cert ?? '', /-----BEGIN CERTIFICATE-----/);
      assert.doesNotMatch(cert.key ?? '', /PRIVATE KEY/);
      assert.match(cert.key ?? '', /^v1\./, 'sealed');
      new X509Certificate(cert.cert!);
      const account = await r.hgetall('switchyard:acme:account');
      assert.match(account.key ?? '', /^v1\./);
      assert.match(account.url ?? '', /^https:\/\/127\.0\.0\.1:\d+\//);
    } finally {
      r.disconnect();
    }
  });

  it('a balancer with another --acme-key cannot open the stored keys: it says so, and neither serves nor orders', async () => {
    const [adminPort, tlsPort] = [await freePort(), await freePort()];
    const proc = new SwitchyardProcess(
      [
        'balancer',
        '--redis',
        redis.url,
        '--backends',
        `b=${backend.url}`,
        '--host',
        '127.0.0.4',
        '--port',
        String(port),
        '--admin-port',
        String(adminPort),
        '--tls-port',
        String(tlsPort),
        '--acme-domains',
        'a.test,b.test',
        '--acme-directory',
        pebble.directory,
        '--acme-ca-cert',
        ca.caFile,
        '--acme-check-interval',
        '1h',
      ],
      { SWITCHYARD_ACME_KEY: 'another-secret-altogether' },
    );
    cleanup.push(() => void proc.kill('SIGKILL'));
    await proc.waitReady(`http://127.0.0.1:${adminPort}`, 1);
    await proc.waitForLog('ACME certificate not loaded from Redis yet', 15_000, (l) => /does not open with this key/.test(String(l.error)));
    // It orders nothing either: the account's key does not open for it.
    await proc.waitForLog('ACME certificate order failed', 15_000, (l) => /does not open with this key/.test(String(l.error)));
    await proc.kill('SIGTERM');
  });

  it('refuses --acme-domains without --tls-port, a Redis registry or --acme-key, naming the flag', async () => {
    const base = ['balancer', '--port', '0', '--admin-port', '0', '--acme-domains', 'a.test'];
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [[], {}, /--acme-domains needs --tls-port/],
      [['--tls-port', '0'], {}, /--acme-domains needs a Redis registry/],
      [['--tls-port', '0', '--redis', 'redis://127.0.0.1:1'], {}, /--acme-domains needs --acme-key/],
      [['--tls-port', '0', '--redis', 'redis://127.0.0.1:1', '--acme-domains', 'not a name'], { SWITCHYARD_ACME_KEY: ACME_KEY }, /--acme-domains/],
    ];
    for (const [extra, env, msg] of cases) {
      const r = await runSwitchyard([...base, ...extra], env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, msg);
    }
  });
});
