import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecretBox } from '../../balancer/tls/acme/secret-box.js';
import { parseAcmeChange } from '../../common/registry/redis-acme-store.js';

describe('ACME keys sealed at rest', () => {
  const box = new SecretBox('a-secret-of-sixteen+');
  const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';

  it('opens what it sealed, and the sealed text holds nothing of the key', () => {
    const sealed = box.seal(pem);
    assert.match(sealed, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(!sealed.includes('PRIVATE KEY') && !sealed.includes('MIGHAgEA'));
    assert.equal(box.open(sealed), pem);
    assert.notEqual(box.seal(pem), sealed, 'a fresh IV each time');
  });

  it('refuses another key, a changed value and anything not sealed', () => {
    const sealed = box.seal(pem);
    assert.throws(() => new SecretBox('another-secret-altogether').open(sealed), /does not open with this key/);
    const parts = sealed.split('.');
    const data = Buffer.from(parts[3]!, 'base64url');
    data[0]! ^= 1;
    assert.throws(() => box.open([parts[0], parts[1], parts[2], data.toString('base64url')].join('.')), /does not open/);
    assert.throws(() => box.open(pem), /not a sealed value/);
    assert.throws(() => new SecretBox('short'), /at least 16/);
  });

  it('reads the announcements of its channel, and drops anything else', () => {
    assert.deepEqual(parseAcmeChange('cert a.test,b.test'), { kind: 'cert', set: 'a.test,b.test' });
    assert.deepEqual(parseAcmeChange('challenge AbC-_9'), { kind: 'challenge', token: 'AbC-_9' });
    for (const bad of ['', 'cert', 'cert a b', 'challenge ../x', 'reload a.test', `cert ${'a'.repeat(600)}`])
      assert.equal(parseAcmeChange(bad), undefined, bad.slice(0, 20));
  });
});
