import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';

/** One certificate as served: its chain and key, the names it answers for, when it expires. */
export interface ServedCertificate {
  /** Where it came from: `cert.pem` or `cert.pem:key.pem`. */
  readonly source: string;
  readonly names: readonly string[];
  readonly notAfter: Date;
  readonly context: SecureContext;
  /** The PEM chain and key (the listener's default context is made from them). */
  readonly pem: { readonly cert: Buffer; readonly key: Buffer };
}

/** Reads a `--tls-cert` entry's files. */
export type ReadFile = (path: string) => Buffer;

/**
 * `cert.pem` (chain and key in one file) or `cert.pem:key.pem` into a certificate;
 * throws naming the entry when a file cannot be read, holds no certificate or key,
 * or the key does not belong to the certificate.
 */
export function loadCertificate(entry: string, read: ReadFile, policy: SecureContextOptions): ServedCertificate {
  const i = entry.lastIndexOf(':');
  const [certPath, keyPath] = i > 0 ? [entry.slice(0, i), entry.slice(i + 1)] : [entry, entry];
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = read(certPath);
    key = keyPath === certPath ? cert : read(keyPath);
  } catch (err) {
    throw new Error(`TLS certificate ${entry}: ${(err as Error).message}`);
  }
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`TLS certificate ${entry}: ${certPath} holds no PEM certificate`);
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(key.toString('latin1'))) throw new Error(`TLS certificate ${entry}: ${keyPath} holds no PEM private key`);
  let x509: X509Certificate;
  let context: SecureContext;
  try {
    x509 = new X509Certificate(cert);
    context = createSecureContext({ ...policy, cert, key });
  } catch (err) {
    throw new Error(`TLS certificate ${entry}: ${(err as Error).message}`);
  }
  // OpenSSL drops a key that does not match instead of failing; every handshake would then fail.
  if (!x509.checkPrivateKey(createPrivateKey(key)))
    throw new Error(`TLS certificate ${entry}: the key in ${keyPath} does not belong to the certificate in ${certPath}`);
  return { source: entry, names: namesOf(x509), notAfter: new Date(x509.validTo), context, pem: { cert, key } };
}

/** DNS names of the subjectAltName, lowercased; the subject's CN only when there are none. */
export function namesOf(x509: X509Certificate): string[] {
  const san = x509.subjectAltName;
  if (san) {
    const names = san
      .split(', ')
      .filter((p) => p.startsWith('DNS:'))
      .map((p) => p.slice(4).toLowerCase());
    if (names.length) return names;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject);
  return cn ? [cn[1]!.toLowerCase()] : [];
}

/** True when a certificate name (`example.com`, `*.example.com`) covers `host`: a wildcard stands for exactly one label. */
export function nameCovers(name: string, host: string): boolean {
  if (name === host) return true;
  if (!name.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === name.slice(2);
}

/**
 * The certificates one listener serves, chosen by the name a client asks for (SNI): an exact
 * name first, then a wildcard, else the first certificate (clients without SNI get it too).
 */
export class CertificateSet {
  readonly certificates: readonly ServedCertificate[];
  readonly #exact = new Map<string, SecureContext>();
  readonly #wildcard: { readonly name: string; readonly context: SecureContext }[] = [];

  /** Empty only while automatic certificates are awaited (every handshake fails until one is there). */
  constructor(certificates: readonly ServedCertificate[]) {
    this.certificates = certificates;
    for (const c of certificates) {
      for (const n of c.names) {
        if (n.startsWith('*.')) this.#wildcard.push({ name: n, context: c.context });
        else if (!this.#exact.has(n)) this.#exact.set(n, c.context);
      }
    }
  }

  get fallback(): SecureContext | undefined {
    return this.certificates[0]?.context;
  }

  contextFor(servername: string | undefined): SecureContext | undefined {
    if (!servername) return this.fallback;
    const host = servername.toLowerCase();
    const exact = this.#exact.get(host);
    if (exact) return exact;
    for (const w of this.#wildcard) if (nameCovers(w.name, host)) return w.context;
    return this.fallback;
  }
}
