import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The one certificate every HTTPS proxy of a bench run serves: the same key type, the same chain, the same name. */
export interface BenchCertificate {
  readonly cert: string;
  readonly key: string;
  /** Certificate then key in one file (HAProxy's `crt`). */
  readonly combined: string;
  /** What it is, for the notes of the run. */
  readonly description: string;
}

/**
 * A self-signed ECDSA P-256 certificate for `localhost` and 127.0.0.1, made
 * with openssl in `dir`. Throws with openssl's message when it cannot.
 */
export function makeBenchCertificate(opensslPath: string, dir: string): BenchCertificate {
  const tls = join(dir, 'tls');
  mkdirSync(tls, { recursive: true });
  const cert = join(tls, 'cert.pem');
  const key = join(tls, 'key.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost'];
  args.push('-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert);
  const r = spawnSync(opensslPath, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl could not make the bench certificate: ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').slice(-2).join(' ')}`);
  const combined = join(tls, 'combined.pem');
  writeFileSync(combined, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { cert, key, combined, description: 'self-signed ECDSA P-256 certificate for localhost and 127.0.0.1, made by openssl for this run' };
}
