import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { freePort } from './ports.js';
import type { TestCa } from './tls-certs.js';
import { waitFor } from './wait.js';

/**
 * Debian's pebble (the ACME test server, RFC 8555) and pebble-challtestsrv as
 * its DNS, started by the test on free loopback ports, offline. Every name
 * resolves to 127.0.0.1 unless `resolve` says otherwise; HTTP-01 challenges
 * are fetched from `httpPort` of the name's address.
 */
export class Pebble {
  readonly #procs: ChildProcess[] = [];
  port = 0;
  dnsManagementPort = 0;
  readonly output: string[] = [];

  private constructor() {}

  /** `ca` signs pebble's own HTTPS certificate (clients trust `ca.caFile`). */
  static async start(ca: TestCa, httpPort: number): Promise<Pebble> {
    const p = new Pebble();
    const [port, mgmt, dns, dnsMgmt, tlsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    p.port = port;
    p.dnsManagementPort = dnsMgmt;
    const own = ca.issue('pebble', ['127.0.0.1', 'localhost']);
    const config = join(ca.dir, 'pebble.json');
    writeFileSync(
      config,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${port}`,
          managementListenAddress: `127.0.0.1:${mgmt}`,
          certificate: own.cert,
          privateKey: own.key,
          httpPort,
          tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }),
    );
    p.#spawn('pebble-challtestsrv', [
      '-dns01',
      `127.0.0.1:${dns}`,
      '-management',
      `127.0.0.1:${dnsMgmt}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
    ]);
    // No sleeps before validation, no nonces refused at random (pebble's defaults test clients' retries; not ours to test here).
    p.#spawn('pebble', ['-config', config, '-dnsserver', `127.0.0.1:${dns}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' });
    const dispatcher = new Agent({ connect: { ca: ca.read() } });
    try {
      await waitFor(
        'pebble to serve its directory',
        async () => {
          try {
            const r = await request(`${p.directory}`, { dispatcher });
            await r.body.dump();
            return r.statusCode === 200;
          } catch {
            return false;
          }
        },
        15_000,
        100,
      );
      await waitFor(
        "pebble-challtestsrv's management API",
        async () => {
          try {
            const r = await request(`http://127.0.0.1:${dnsMgmt}/clear-a`, { method: 'POST', body: '{"host":"none.test"}' });
            await r.body.dump();
            return r.statusCode === 200;
          } catch {
            return false;
          }
        },
        15_000,
        100,
      );
      // pebble's root, which signs what it issues (fetched from its management API).
      const root = await request(`https://127.0.0.1:${mgmt}/roots/0`, { dispatcher });
      p.root = await root.body.text();
    } catch (err) {
      p.close();
      throw new Error(`${(err as Error).message}; pebble said: ${p.output.join('').slice(-2000)}`);
    } finally {
      await dispatcher.close();
    }
    return p;
  }

  /** The CA certificate at the top of pebble's chains. */
  root = '';

  get directory(): string {
    return `https://127.0.0.1:${this.port}/dir`;
  }

  /** `host` resolves to `address` (A record) from now on. */
  async resolve(host: string, address: string): Promise<void> {
    const r = await request(`http://127.0.0.1:${this.dnsManagementPort}/add-a`, { method: 'POST', body: JSON.stringify({ host, addresses: [address] }) });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`pebble-challtestsrv add-a answered ${r.statusCode}`);
  }

  close(): void {
    for (const p of this.#procs) p.kill('SIGKILL');
  }

  #spawn(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): void {
    const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.on('error', (err) => this.output.push(`${cmd}: ${err.message} (install pebble)`));
    proc.stdout.on('data', (d: Buffer) => this.output.push(d.toString()));
    proc.stderr.on('data', (d: Buffer) => this.output.push(d.toString()));
    this.#procs.push(proc);
  }
}
