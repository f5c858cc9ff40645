import { readFileSync, statSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from '../../common/logger.js';
import { CertificateSet, loadCertificate, type ServedCertificate } from './certificate-set.js';
import { tlsPolicy } from './tls-policy.js';
import { proxySourceOf, type ProxyProtocolGate } from '../edge/proxy-protocol-gate.js';

export interface TlsListenerOptions {
  /** `--tls-cert` entries: `cert.pem` (chain and key in one file) or `cert.pem:key.pem`. */
  readonly certs: readonly string[];
  /** How often the files are looked at for a change (0: never). */
  readonly reloadIntervalMs: number;
  /** How long a client may take to finish its handshake. */
  readonly handshakeTimeoutMs: number;
  /** Connections that choose HTTP/2 by ALPN go here; without it only HTTP/1.1 is offered. */
  readonly h2?: { serve(socket: TLSSocket): void };
  /** --proxy-protocol: trusted peers' connections start with a PROXY header, read before the handshake. */
  readonly proxyProtocol?: ProxyProtocolGate;
  readonly logger: Logger;
}

/** The files of the entries, each once. */
function filesOf(certs: readonly string[]): string[] {
  const files = new Set<string>();
  for (const e of certs) {
    const i = e.lastIndexOf(':');
    if (i > 0) files.add(e.slice(0, i)).add(e.slice(i + 1));
    else files.add(e);
  }
  return [...files];
}

/** What the files look like on disk now: a change of any (replaced, rewritten, removed) changes it. */
function stamp(files: readonly string[]): string {
  return files
    .map((f) => {
      try {
        const s = statSync(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

/**
 * The HTTPS port: TLS 1.2/1.3 (tls-policy.ts), the certificate chosen by SNI
 * (certificate-set.ts), and each connection, once its handshake is done, handed to
 * the proxy's server as a connection of its own, so every engine serves it as it
 * serves plain HTTP; or, when the client chose `h2` by ALPN, to the HTTP/2 listener. The certificate files are looked at every `reloadIntervalMs`:
 * when they change and all of them load, new handshakes get the new ones (open
 * connections keep theirs); when any fails to load, the old set stays and the
 * error is logged, naming the file.
 */
export class TlsListener {
  readonly #target: HttpServer;
  readonly #options: TlsListenerOptions;
  readonly #files: string[];
  readonly #server: Server;
  #set: CertificateSet;
  /** From the files (--tls-cert), and from elsewhere (automatic certificates, acme/). */
  #fromFiles: readonly ServedCertificate[];
  #extra: readonly ServedCertificate[] = [];
  #stamp: string;
  #timer: NodeJS.Timeout | undefined;
  /** Handshakes that failed (protocol, cipher, timeout, garbage). */
  handshakeFailures = 0;
  reloads = 0;

  /** Loads the certificates now: throws, naming the entry, when one cannot be served. */
  constructor(target: HttpServer, options: TlsListenerOptions) {
    this.#target = target;
    this.#options = options;
    this.#files = filesOf(options.certs);
    this.#stamp = stamp(this.#files);
    this.#fromFiles = this.#load();
    this.#set = new CertificateSet(this.#fromFiles);
    const first = this.#set.certificates[0];
    this.#server = createServer({
      ...tlsPolicy(),
      ...(first === undefined ? {} : { cert: first.pem.cert, key: first.pem.key }),
      SNICallback: (name, cb) => cb(null, this.#set.contextFor(name)),
      handshakeTimeout: options.handshakeTimeoutMs,
      ALPNProtocols: options.h2 === undefined ? ['http/1.1'] : ['h2', 'http/1.1'],
    });
    const h2 = options.h2;
    const proxied = options.proxyProtocol;
    if (proxied !== undefined) proxied.intercept(this.#server, true);
    this.#server.on('secureConnection', (socket: TLSSocket) => {
      if (proxied !== undefined) {
        // The client the PROXY header named is this connection's peer.
        const source = proxySourceOf(socket);
        if (source !== undefined) {
          Object.defineProperty(socket, 'remoteAddress', { value: source.address, configurable: true });
          Object.defineProperty(socket, 'remotePort', { value: source.port, configurable: true });
        }
      }
      if (h2 !== undefined && socket.alpnProtocol === 'h2') h2.serve(socket);
      else this.#target.emit('connection', socket);
    });
    this.#server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.handshakeFailures++;
      options.logger.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
      socket.destroy();
    });
    this.#server.on('error', (err) => options.logger.error({ err }, 'HTTPS listening socket error'));
  }

  get certificates(): CertificateSet {
    return this.#set;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ port, host }, () => {
        this.#server.off('error', reject);
        if (this.#options.reloadIntervalMs > 0) {
          this.#timer = setInterval(() => this.reloadIfChanged(), this.#options.reloadIntervalMs);
          this.#timer.unref();
        }
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Reloads when the files changed; true when a new set is served. */
  reloadIfChanged(): boolean {
    const now = stamp(this.#files);
    if (now === this.#stamp) return false;
    this.#stamp = now;
    try {
      this.#fromFiles = this.#load();
    } catch (err) {
      this.#options.logger.error({ err: (err as Error).message }, 'TLS certificates not reloaded: the ones loaded before are still served');
      return false;
    }
    this.#apply();
    this.reloads++;
    this.#options.logger.info({ certificates: describe(this.#set) }, 'TLS certificates reloaded');
    return true;
  }

  /** Certificates from elsewhere (automatic ones) served beside the files', after them; replaces the ones given before. */
  useCertificates(extra: readonly ServedCertificate[]): void {
    this.#extra = extra;
    this.#apply();
  }

  #apply(): void {
    const set = new CertificateSet([...this.#fromFiles, ...this.#extra]);
    const first = set.certificates[0];
    if (first !== undefined) this.#server.setSecureContext({ ...tlsPolicy(), cert: first.pem.cert, key: first.pem.key });
    this.#set = set;
  }

  /** Stops accepting; resolves once the connections it accepted have closed (the proxy closes them). */
  close(): Promise<void> {
    clearInterval(this.#timer);
    if (!this.#server.listening) return Promise.resolve();
    // net.Server's close: tls.Server has no idle connections of its own to close.
    return new Promise((resolve) => NetServer.prototype.close.call(this.#server, () => resolve()));
  }

  #load(): ServedCertificate[] {
    const policy = tlsPolicy();
    return this.#options.certs.map((e) => loadCertificate(e, (p) => readFileSync(p), policy));
  }
}

/** Names and expiry of each certificate, for logs. */
export function describe(set: CertificateSet): { source: string; names: readonly string[]; notAfter: string }[] {
  return set.certificates.map((c) => ({ source: c.source, names: c.names, notAfter: c.notAfter.toISOString() }));
}
