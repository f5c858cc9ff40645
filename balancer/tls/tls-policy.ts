import type { TlsOptions } from 'node:tls';

/*
 * What the HTTPS listener offers (docs/edge.md): TLS 1.2 and 1.3 only; for TLS 1.2
 * only ephemeral key exchange with AEAD ciphers (forward secrecy, no CBC, no RSA
 * key transport), in the server's order of preference; TLS 1.3's suites are all AEAD.
 */

/** TLS 1.3 suites, strongest first (OpenSSL names). */
export const TLS13_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'] as const;

/** TLS 1.2 ciphers, in the server's order (OpenSSL names). */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
] as const;

export const TLS_MIN_VERSION = 'TLSv1.2';

/** Server options every HTTPS listener shares; certificates come per name (SNI). */
export function tlsPolicy(): TlsOptions {
  return {
    minVersion: TLS_MIN_VERSION,
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_SUITES, ...TLS12_CIPHERS].join(':'),
    honorCipherOrder: true,
    // No TLS-level renegotiation or session tickets kept across reloads by accident: tickets are on, keys are per process.
  };
}
