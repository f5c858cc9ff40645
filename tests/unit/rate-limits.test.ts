import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRateLimitKey, parseRateLimitRule, parseRateLimitRules, ruleFor } from '../../balancer/edge/rate-limit-rules.js';
import { RATE_PENDING, RateLimiter, type RateLimited } from '../../balancer/edge/rate-limiter.js';
import { TokenBuckets } from '../../balancer/edge/token-buckets.js';

describe('rate-limit rules', () => {
  it('reads prefix, rate, unit and burst, and names what is wrong', () => {
    assert.deepEqual({ ...parseRateLimitRule('/api=100/s burst 200') }, { name: '/api=100/s burst 200', prefix: '/api', perSecond: 100, burst: 200 });
    assert.deepEqual({ ...parseRateLimitRule('/login=6/m') }, { name: '/login=6/m', prefix: '/login', perSecond: 0.1, burst: 1 });
    assert.equal(parseRateLimitRule('/=7200/h').burst, 2, 'the burst defaults to one second of rate');
    assert.throws(() => parseRateLimitRule('api=1/s'), /not <path prefix>=<n>\/<s\|m\|h>/);
    assert.throws(() => parseRateLimitRule('/=0/s'), /rate must be from 1/);
    assert.throws(() => parseRateLimitRule('/=5/d'), /not <path prefix>/);
    assert.throws(() => parseRateLimitRules(['/a=1/s', '/a=2/s']), /two rules for the path prefix '\/a'/);
  });

  it('the longest matching prefix counts; a path no rule covers is not limited', () => {
    const rules = parseRateLimitRules(['/=100/s', '/api=10/s', '/api/login=1/s']);
    assert.equal(ruleFor(rules, '/api/login?x')!.prefix, '/api/login');
    assert.equal(ruleFor(rules, '/api/users')!.prefix, '/api');
    assert.equal(ruleFor(rules, '/index.html')!.prefix, '/');
    assert.equal(ruleFor(parseRateLimitRules(['/api=1/s']), '/other'), undefined);
  });

  it('keys: ip, header:<name>, cookie:<name>', () => {
    assert.deepEqual(parseRateLimitKey('ip'), { kind: 'ip' });
    assert.deepEqual(parseRateLimitKey('header:X-Api-Key'), { kind: 'header', name: 'x-api-key' });
    assert.deepEqual(parseRateLimitKey('cookie:session'), { kind: 'cookie', name: 'session' });
    assert.throws(() => parseRateLimitKey('header:'), /not ip, header:<name> or cookie:<name>/);
  });
});

describe('token buckets', () => {
  const rule = parseRateLimitRule('/=10/s burst 5');

  it('allows the burst at once, then one request per 1/rate, with Retry-After and reset', () => {
    const b = new TokenBuckets(rule, 100, 0);
    const results = Array.from({ length: 7 }, () => b.take('c', 0));
    assert.deepEqual(
      results.map((r) => r.allowed),
      [true, true, true, true, true, false, false],
    );
    assert.equal(results[4]!.remaining, 0);
    assert.equal(results[5]!.retryAfterSeconds, 1, 'rounded up to whole seconds');
    assert.equal(b.take('c', 100).allowed, true, 'one token back after 100 ms at 10/s');
    assert.equal(b.take('c', 100).allowed, false);
    assert.equal(b.take('other', 100).allowed, true, 'each client has its own bucket');
    assert.equal(b.take('c', 10_000).remaining, 4, 'never more than the burst');
  });

  it('drops refilled buckets, and shares one bucket among new clients while the table is full', () => {
    const b = new TokenBuckets(rule, 2, 0);
    b.take('a', 0);
    b.take('b', 0);
    assert.equal(b.keys, 2);
    for (let i = 0; i < 5; i++) assert.equal(b.take(`new-${i}`, 0).allowed, true);
    assert.equal(b.take('new-5', 0).allowed, false, 'the shared bucket is spent');
    b.sweep(1000);
    assert.equal(b.keys, 0);
    assert.equal(b.take('new-5', 1000).allowed, true);
  });
});

describe('rate limiter', () => {
  it('answers the draft RateLimit fields and keys by header, falling back to the address', () => {
    const l = new RateLimiter(parseRateLimitRules(['/api=2/s burst 2']), parseRateLimitKey('header:x-api-key'), 100, 0);
    const h = (key?: string): string[] => (key === undefined ? ['Host', 'h'] : ['Host', 'h', 'X-Api-Key', key]);
    assert.equal(l.check('/api/x', '10.0.0.1', h('k1'), 0), undefined);
    assert.equal(l.check('/api/x', '10.0.0.2', h('k1'), 0), undefined);
    const refused = l.check('/api/x', '10.0.0.3', h('k1'), 0)!;
    assert.equal(refused.retryAfterSeconds, 1);
    assert.deepEqual(refused.headers, ['ratelimit-policy', '"/api";q=2;w=1', 'ratelimit', '"/api";r=0;t=1']);
    assert.equal(l.check('/api/x', '10.0.0.3', h('k2'), 0), undefined, 'another key, another bucket');
    assert.equal(l.check('/api/x', '10.0.0.9', h(), 0), undefined);
    assert.equal(l.check('/api/x', '10.0.0.9', h(), 0), undefined);
    assert.notEqual(l.check('/api/x', '10.0.0.9', h(), 0), undefined, 'without the header, the address is the key');
    assert.equal(l.check('/other', '10.0.0.9', h(), 0), undefined, 'no rule, no limit');
    assert.deepEqual(
      l.status().rules.map((r) => [r.prefix, r.allowed, r.refused]),
      [['/api', 5, 2]],
    );
  });
});

describe('rate limiter shared through a store', () => {
  const waiter = (): { answers: (RateLimited | undefined)[]; rateDecided(l: RateLimited | undefined): void } => {
    const answers: (RateLimited | undefined)[] = [];
    return { answers, rateDecided: (l) => answers.push(l) };
  };

  it('asks the store only for what its own bucket allows, and goes by the store', async () => {
    const asked: string[] = [];
    let allow = true;
    const l = new RateLimiter(parseRateLimitRules(['/=1/s burst 2']), parseRateLimitKey('ip'), 100, 0);
    l.shareWith({ failure: 'open', take: (rule, key) => (asked.push(`${rule}|${key}`), Promise.resolve({ allowed: allow, waitMs: 2500 })) });
    const w = waiter();
    assert.equal(l.check('/', 'c', [], 0, w), RATE_PENDING);
    allow = false;
    assert.equal(l.check('/', 'c', [], 0, w), RATE_PENDING);
    // The local bucket (burst 2) is empty now: refused at once, the store not asked.
    assert.equal((l.check('/', 'c', [], 0, w) as RateLimited).retryAfterSeconds, 1);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(asked, ['/=1/s burst 2|c', '/=1/s burst 2|c']);
    assert.equal(w.answers[0], undefined, 'the store allowed the first');
    assert.equal(w.answers[1]!.retryAfterSeconds, 3, "the store's wait, in whole seconds");
    assert.deepEqual(
      l.status().rules.map((r) => [r.allowed, r.refused]),
      [[1, 2]],
    );
    assert.equal(l.status().store, 'redis');
  });

  it('while the store fails: open goes by its own bucket, closed answers 503', async () => {
    for (const failure of ['open', 'closed'] as const) {
      const l = new RateLimiter(parseRateLimitRules(['/=1/s burst 5']), parseRateLimitKey('ip'), 100, 0);
      l.shareWith({ failure, take: () => Promise.reject(new Error('down')) });
      const w = waiter();
      assert.equal(l.check('/', 'c', [], 0, w), RATE_PENDING);
      await new Promise((r) => setImmediate(r));
      if (failure === 'open') assert.equal(w.answers[0], undefined);
      else assert.equal(w.answers[0]!.code, 'SWY_RATE_LIMIT_UNAVAILABLE');
      assert.equal(l.status().storeFailures, 1);
    }
  });

  it('keeps clients past the table local: no key beyond --rate-limit-max-clients reaches the store', () => {
    const l = new RateLimiter(parseRateLimitRules(['/=1/s burst 5']), parseRateLimitKey('ip'), 2, 0);
    l.shareWith({ failure: 'open', take: () => Promise.resolve({ allowed: true, waitMs: 0 }) });
    const w = waiter();
    assert.equal(l.check('/', 'a', [], 0, w), RATE_PENDING);
    assert.equal(l.check('/', 'b', [], 0, w), RATE_PENDING);
    assert.equal(l.check('/', 'c', [], 0, w), undefined, 'the overflow bucket decides here');
  });
});
