import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idFromUrl, parseBackendSpec, sameSpec, toOrigin } from '../../common/backend.js';

describe('parseBackendSpec', () => {
  it('fills defaults and normalises the URL to its origin', () => {
    const r = parseBackendSpec({ url: 'http://Example.com:8080/' });
    assert.ok(r.ok);
    assert.deepEqual(
      { ...r.value, labels: { ...r.value.labels } },
      { id: 'example.com:8080', url: 'http://example.com:8080', weight: 1, state: 'active', labels: {} },
    );
  });

  const bad: [string, unknown, RegExp][] = [
    ['no object', 'x', /not an object/],
    ['no url', { id: 'a' }, /url is missing/],
    ['a non-http url', { url: 'ftp://a:1' }, /not an http\(s\) origin/],
    ['a url with a query', { url: 'http://a:1/?x' }, /not an http\(s\) origin/],
    ['a url with credentials', { url: 'http://u:p@a:1' }, /not an http\(s\) origin/],
    ['a bad id', { id: 'a b', url: 'http://a:1' }, /id 'a b' must match/],
    ['a weight out of range', { url: 'http://a:1', weight: 1001 }, /weight '1001'/],
    ['a fractional weight', { url: 'http://a:1', weight: '1.5' }, /weight '1.5'/],
    ['an unknown state', { url: 'http://a:1', state: 'down' }, /state 'down'/],
    ['non-string labels', { url: 'http://a:1', labels: { a: 1 } }, /label 'a' must be a string/],
  ];
  for (const [what, input, pattern] of bad) {
    it(`rejects ${what}`, () => {
      const r = parseBackendSpec(input);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, pattern);
    });
  }

  it('accepts weights given as text (Redis hash fields are text)', () => {
    const r = parseBackendSpec({ url: 'http://a:1', weight: '7', state: 'draining' });
    assert.ok(r.ok && r.value.weight === 7 && r.value.state === 'draining');
  });
});

describe('URL helpers', () => {
  it('derives ids from host and port', () => {
    assert.equal(idFromUrl('http://10.0.0.1:8081'), '10.0.0.1:8081');
    assert.equal(idFromUrl('http://svc'), 'svc:80');
    assert.equal(idFromUrl('http://[::1]:81'), '--1:81');
  });
  it('keeps https origins', () => assert.equal(toOrigin('https://a.example:8443'), 'https://a.example:8443'));
  it('compares specs by value, labels included', () => {
    const a = parseBackendSpec({ id: 'x', url: 'http://a:1', labels: { k: 'v' } });
    const b = parseBackendSpec({ id: 'x', url: 'http://a:1', labels: { k: 'v' } });
    const c = parseBackendSpec({ id: 'x', url: 'http://a:1', labels: { k: 'w' } });
    assert.ok(a.ok && b.ok && c.ok);
    assert.equal(sameSpec(a.value, b.value), true);
    assert.equal(sameSpec(a.value, c.value), false);
  });
});
