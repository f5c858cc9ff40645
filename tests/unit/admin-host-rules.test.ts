import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isOwnOrigin } from '../../balancer/admin/cross-site-guard.js';
import { hostAllowlist, hostName, isLoopbackName, isWildcardAddress } from '../../balancer/admin/host-allowlist.js';
import { SessionStore } from '../../balancer/admin/session-store.js';

it('reads the name of a Host value, and refuses malformed ones', () => {
  const cases: [string, string | undefined][] = [
    ['127.0.0.1:9091', '127.0.0.1'],
    ['LocalHost', 'localhost'],
    ['localhost.:80', 'localhost'],
    ['[::1]:9091', '::1'],
    ['[::1]', '::1'],
    ['balancer', 'balancer'],
    ['', undefined],
    ['a b', undefined],
    ['[::1', undefined],
    ['[zz]:1', undefined],
    ['host:port', undefined],
    ['host:1:2', undefined],
    ['evil.example@127.0.0.1', undefined],
  ];
  for (const [value, name] of cases) assert.equal(hostName(value), name, value);
});

it('knows loopback and wildcard addresses', () => {
  for (const a of ['localhost', '127.0.0.1', '127.255.0.9', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.equal(isLoopbackName(a), true, a);
  for (const a of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'localhost.evil.example', 'balancer', '::2']) assert.equal(isLoopbackName(a), false, a);
  for (const a of ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']) assert.equal(isWildcardAddress(a), true, a);
  for (const a of ['127.0.0.1', '::1', '10.0.0.1']) assert.equal(isWildcardAddress(a), false, a);
});

it('allows loopback names, a specific bind address, configured names and the local address literal', () => {
  const wildcard = hostAllowlist({ bindHost: '0.0.0.0', allowedHosts: ['Balancer'] });
  assert.equal(wildcard('localhost', '10.0.0.5'), true);
  assert.equal(wildcard('balancer', '10.0.0.5'), true);
  assert.equal(wildcard('0.0.0.0', '10.0.0.5'), false, 'a wildcard bind names nothing');
  assert.equal(wildcard('10.0.0.5', '10.0.0.5'), true, 'the address the connection arrived on');
  assert.equal(wildcard('10.0.0.5', '::ffff:10.0.0.5'), true);
  assert.equal(wildcard('10.0.0.6', '10.0.0.5'), false);
  assert.equal(wildcard('attacker.example', '127.0.0.1'), false);
  const specific = hostAllowlist({ bindHost: 'fd00::5' });
  assert.equal(specific('fd00:0:0:0:0:0:0:5', undefined), true, 'any spelling of the address');
  assert.equal(specific('fd00::5', undefined), true);
  assert.equal(specific('fd00::6', undefined), false);
  assert.equal(specific('fd00:0:0:0:0:0:0:5', 'fd00::5'), true);
});

it("tells the admin API's own origin from others", () => {
  assert.equal(isOwnOrigin('http://127.0.0.1:9091', '127.0.0.1:9091'), true);
  assert.equal(isOwnOrigin('https://admin.example', 'admin.example'), true);
  assert.equal(isOwnOrigin('http://admin.example', 'admin.example:80'), true);
  assert.equal(isOwnOrigin('http://[::1]:9091', '[::1]:9091'), true);
  assert.equal(isOwnOrigin('http://127.0.0.1:9092', '127.0.0.1:9091'), false);
  assert.equal(isOwnOrigin('http://evil.example', '127.0.0.1:9091'), false);
  assert.equal(isOwnOrigin('null', '127.0.0.1:9091'), false);
  assert.equal(isOwnOrigin('file://', 'localhost'), false);
  assert.equal(isOwnOrigin('http://127.0.0.1:9091/path', '127.0.0.1:9091'), false);
});

it('keeps sessions bounded: the oldest makes way, an expired one is gone, a revoked one too', () => {
  let now = 0;
  const store = new SessionStore({ max: 2, ttlMs: 1000, now: () => now });
  const a = store.create();
  const b = store.create();
  assert.notEqual(a, b);
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  const c = store.create();
  assert.equal(store.valid(a), false);
  assert.equal(store.valid(b), true);
  store.revoke(b);
  assert.equal(store.valid(b), false);
  now = 1000;
  assert.equal(store.valid(c), false);
  assert.equal(store.size, 0);
  assert.equal(store.valid(undefined), false);
});
