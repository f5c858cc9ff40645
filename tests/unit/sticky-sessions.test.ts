import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoundRobin } from '../../balancer/strategies/round-robin.js';
import { StickySessions } from '../../balancer/strategies/sticky-sessions.js';
import { DynamicWeighted } from '../../balancer/strategies/dynamic-weighted.js';
import { candidates, ctx, type TestCandidate } from './support/lb-fixtures.js';

const SECRET = 'a-shared-secret-of-32-characters';

function sticky(): StickySessions<TestCandidate> {
  return new StickySessions<TestCandidate>(new RoundRobin<TestCandidate>(), { cookieName: 'lb', secret: SECRET });
}

test('sticky: a request without the cookie goes to the inner strategy and is told to set one', () => {
  const cs = candidates([1, 1, 1]);
  const s = sticky();
  const req = ctx();
  const first = s.pick(cs, req)!;
  assert.equal(first.id, 'b000');
  const token = s.cookieToSet(req, first);
  assert.ok(token !== undefined && /^[A-Za-z0-9_-]{22}$/.test(token), token);
  assert.equal(s.setCookieHeader(token), `lb=${token}; Path=/; HttpOnly; SameSite=Lax`);
});

test('sticky: the cookie pins every later request to the same backend, and no new cookie is needed', () => {
  const cs = candidates([1, 1, 1]);
  const s = sticky();
  const token = s.tokenFor('b002');
  const req = ctx({ headers: { cookie: `other=1; lb=${token}` } });
  for (let i = 0; i < 5; i++) assert.equal(s.pick(cs, req)!.id, 'b002');
  assert.equal(s.cookieToSet(req, cs[2]!), undefined);
});

test('sticky: when the pinned backend leaves the routable set the inner strategy re-pins', () => {
  const cs = candidates([1, 1, 1]);
  const s = sticky();
  const req = ctx({ headers: { cookie: `lb=${s.tokenFor('b001')}` } });
  const withoutPinned = [cs[0]!, cs[2]!];
  const chosen = s.pick(withoutPinned, req)!;
  assert.notEqual(chosen.id, 'b001');
  assert.equal(s.cookieToSet(req, chosen), s.tokenFor(chosen.id));
});

test('sticky: an excluded pinned backend (retry) is skipped for this request only', () => {
  const cs = candidates([1, 1, 1]);
  const s = sticky();
  const req = ctx({ headers: { cookie: `lb=${s.tokenFor('b000')}` } });
  assert.notEqual(s.pick(cs, req, [cs[0]!])!.id, 'b000');
  assert.equal(s.pick(cs, req)!.id, 'b000');
});

test('sticky: a forged or foreign cookie value is ignored', () => {
  const cs = candidates([1, 1, 1]);
  const s = sticky();
  const other = new StickySessions<TestCandidate>(new RoundRobin<TestCandidate>(), { cookieName: 'lb', secret: 'another-secret-entirely-1234567' });
  for (const value of ['b002', Buffer.from('b002').toString('base64url'), other.tokenFor('b002')]) {
    const req = ctx({ headers: { cookie: `lb=${value}` } });
    assert.equal(s.pinned(cs, req), undefined, value);
  }
});

test('sticky: the token does not contain the backend id and differs per id', () => {
  const s = sticky();
  const a = s.tokenFor('api-1:8080');
  const b = s.tokenFor('api-2:8080');
  assert.notEqual(a, b);
  assert.ok(!a.includes('api'));
  assert.equal(s.tokenFor('api-1:8080'), a);
  const again = new StickySessions<TestCandidate>(new RoundRobin<TestCandidate>(), { cookieName: 'lb', secret: SECRET });
  assert.equal(again.tokenFor('api-1:8080'), a, 'the same secret gives the same token in another balancer');
});

test('sticky: cookie attributes and option checks', () => {
  const s = new StickySessions<TestCandidate>(new RoundRobin<TestCandidate>(), { cookieName: 'lb', secret: SECRET, maxAgeSeconds: 3600, secure: true });
  assert.equal(s.setCookieHeader('x'), 'lb=x; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure');
  assert.throws(() => new StickySessions(new RoundRobin(), { cookieName: 'bad name', secret: SECRET }), /stickyCookie/);
  assert.throws(() => new StickySessions(new RoundRobin(), { cookieName: 'lb', secret: 'short' }), /stickySecret/);
  assert.throws(() => new StickySessions(new RoundRobin(), { cookieName: 'lb', secret: SECRET, maxAgeSeconds: 0 }), /stickyMaxAge/);
});

test('sticky: forwards observe/refresh to a learning inner strategy and keeps its name', () => {
  const inner = new DynamicWeighted<TestCandidate>();
  const s = new StickySessions<TestCandidate>(inner, { cookieName: 'lb', secret: SECRET });
  assert.equal(s.name, 'dynamic-weighted');
  assert.equal(typeof s.observe, 'function');
  s.observe!('b000', 5, true, 0);
  s.refresh!(candidates([1]), 20_000);
  assert.equal(inner.weights.snapshot(['b000'], 20_000)[0]!.latencyEwmaMs, 5);
  assert.equal(sticky().observe, undefined);
});
