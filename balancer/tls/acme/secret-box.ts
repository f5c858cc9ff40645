import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Seals private keys before they go to Redis (ACME account and certificate
 * keys; docs/edge.md): AES-256-GCM under a key derived (HKDF-SHA256) from a
 * secret that is not in Redis (--acme-key, best given as a file). Whoever
 * reads Redis without the secret gets ciphertext; a sealed value changed by
 * anyone fails to open.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(secret: string) {
    if (secret.length < 16) throw new Error('the key must be at least 16 characters');
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'switchyard', 'acme private keys at rest', 32));
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    const data = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `v1.${iv.toString('base64url')}.${c.getAuthTag().toString('base64url')}.${data.toString('base64url')}`;
  }

  /** Throws when the value was sealed under another key or changed since. */
  open(sealed: string): string {
    const [v, iv, tag, data] = sealed.split('.');
    if (v !== 'v1' || iv === undefined || tag === undefined || data === undefined) throw new Error('not a sealed value');
    const d = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([d.update(Buffer.from(data, 'base64url')), d.final()]).toString('utf8');
    } catch {
      throw new Error('a sealed value does not open with this key (another --acme-key, or changed in Redis)');
    }
  }
}
