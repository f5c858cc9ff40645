import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHashKey } from '../../balancer/strategies/hash-key.js';
import { readCookie } from '../../balancer/strategies/cookie.js';
import { ctx } from './support/lb-fixtures.js';

const request = ctx({
  ip: '198.51.100.4',
  path: '/cart/items?page=2',
  headers: { 'x-tenant': 'acme', cookie: 'theme=dark; session="s-123"; other=1' },
});

const cases: Array<{ spec: string; expected: string | undefined; canonical: string }> = [
  { spec: 'ip', expected: '198.51.100.4', canonical: 'ip' },
  { spec: 'path', expected: '/cart/items', canonical: 'path' },
  { spec: 'header:x-tenant', expected: 'acme', canonical: 'header:x-tenant' },
  { spec: 'header:X-Tenant', expected: 'acme', canonical: 'header:x-tenant' },
  { spec: 'header:x-missing', expected: undefined, canonical: 'header:x-missing' },
  { spec: 'cookie:session', expected: 's-123', canonical: 'cookie:session' },
  { spec: 'cookie:theme', expected: 'dark', canonical: 'cookie:theme' },
  { spec: 'cookie:them', expected: undefined, canonical: 'cookie:them' },
];

for (const { spec, expected, canonical } of cases) {
  test(`hash key ${spec} reads ${String(expected)}`, () => {
    const k = parseHashKey(spec);
    assert.equal(k.spec, canonical);
    assert.equal(k.key(request), expected);
  });
}

for (const bad of ['', 'IP', 'header', 'header:', 'cookie:', 'cookie:a b', 'query:x', 'header:bad name']) {
  test(`hash key '${bad}' is rejected naming the option`, () => {
    assert.throws(
      () => parseHashKey(bad),
      (err: Error) => err instanceof RangeError && err.message.includes('hashKey') && err.message.includes(`'${bad}'`),
    );
  });
}

const cookies: Array<[string | undefined, string, string | undefined]> = [
  [undefined, 'a', undefined],
  ['', 'a', undefined],
  ['a=1', 'a', '1'],
  ['a=1;b=2', 'b', '2'],
  ['  a=1 ;  b = 2', 'a', '1'],
  ['ab=1; a=2', 'a', '2'],
  ['a=', 'a', ''],
  ['a="q"', 'a', 'q'],
  ['xa=1', 'a', undefined],
];
for (const [header, name, expected] of cookies) {
  test(`readCookie(${JSON.stringify(header)}, ${name}) = ${String(expected)}`, () => {
    assert.equal(readCookie(header, name), expected);
  });
}
