import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSecureContext } from 'node:tls';
import { CertificateSet, nameCovers, type ServedCertificate } from '../../balancer/tls/certificate-set.js';
import { httpsLocation } from '../../balancer/edge/https-redirect.js';

function cert(source: string, names: string[]): ServedCertificate {
  return { source, names, notAfter: new Date(0), context: createSecureContext(), pem: { cert: Buffer.alloc(0), key: Buffer.alloc(0) } };
}

describe('certificate names and SNI', () => {
  it('a wildcard covers exactly one label', () => {
    assert.ok(nameCovers('example.com', 'example.com'));
    assert.ok(nameCovers('*.example.com', 'www.example.com'));
    assert.ok(!nameCovers('*.example.com', 'example.com'));
    assert.ok(!nameCovers('*.example.com', 'a.b.example.com'));
    assert.ok(!nameCovers('*.example.com', '.example.com'));
    assert.ok(!nameCovers('www.example.com', 'example.com'));
  });

  it('picks an exact name, then a wildcard, else the first certificate', () => {
    const first = cert('first', ['a.test']);
    const wild = cert('wild', ['*.b.test']);
    const exact = cert('exact', ['www.b.test']);
    const set = new CertificateSet([first, wild, exact]);
    assert.equal(set.contextFor('www.b.test'), exact.context);
    assert.equal(set.contextFor('WWW.B.TEST'), exact.context, 'names compare without case');
    assert.equal(set.contextFor('api.b.test'), wild.context);
    assert.equal(set.contextFor('a.test'), first.context);
    assert.equal(set.contextFor('unknown.test'), first.context);
    assert.equal(set.contextFor(undefined), first.context, 'a client without SNI gets the first');
  });

  it('the earlier certificate keeps a name two of them hold', () => {
    const one = cert('one', ['a.test']);
    const two = cert('two', ['a.test']);
    assert.equal(new CertificateSet([one, two]).contextFor('a.test'), one.context);
  });

  it('an empty set (automatic certificates not there yet) has no context to give: the handshake fails', () => {
    const empty = new CertificateSet([]);
    assert.equal(empty.contextFor('a.test'), undefined);
    assert.equal(empty.fallback, undefined);
  });
});

describe('the redirect to HTTPS', () => {
  it('keeps host and target, puts the HTTPS port, and leaves ACME challenges alone', () => {
    assert.equal(httpsLocation(8443, 'a.test:8080', '/x?y=1'), 'https://a.test:8443/x?y=1');
    assert.equal(httpsLocation(443, 'a.test', '/'), 'https://a.test/');
    assert.equal(httpsLocation(443, '[2001:db8::1]:80', '/p'), 'https://[2001:db8::1]/p');
    assert.equal(httpsLocation(8443, '[::1]', '/p'), 'https://[::1]:8443/p');
    assert.equal(httpsLocation(443, 'a.test', '*'), 'https://a.test/');
    assert.equal(httpsLocation(443, 'a.test', '/.well-known/acme-challenge/abc'), undefined);
    assert.equal(httpsLocation(443, '', '/'), undefined, 'no Host, nowhere to send it');
    assert.equal(httpsLocation(undefined, 'a.test', '/'), undefined);
  });
});
