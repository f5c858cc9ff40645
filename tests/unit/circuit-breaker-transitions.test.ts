import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CircuitBreaker, type BreakerState } from '../../balancer/resilience/circuit-breaker.js';
import { CircuitBreakers, type BreakerEvent } from '../../balancer/resilience/circuit-breakers.js';

const OPTS = { failureRatio: 0.5, minRequests: 4, windowMs: 10_000, buckets: 10, openMs: 5_000, halfOpenRequests: 2 };

/** The owner's tick at `now`, then the read: a breaker changes with time only in its tick. */
function stateAt(b: CircuitBreaker, now: number): BreakerState {
  b.advance(now);
  return b.state;
}

/** The owner's tick at `now`, then the attempt asks. */
function allowAt(b: CircuitBreaker, now: number): boolean {
  b.advance(now);
  return b.allow();
}

function breaker(): { b: CircuitBreaker; log: string[] } {
  const log: string[] = [];
  const b = new CircuitBreaker(OPTS, (from, to, at) => log.push(`${from}->${to}@${at}`));
  return { b, log };
}

test('breaker: stays closed below minRequests even at 100 % failures', () => {
  const { b } = breaker();
  for (let i = 0; i < 3; i++) b.record('failure', i);
  assert.equal(stateAt(b, 3), 'closed');
});

test('breaker: opens at the failure ratio over the window, then half-open after openMs, closed after K trial successes', () => {
  const { b, log } = breaker();
  b.record('success', 0);
  b.record('success', 1);
  b.record('failure', 2);
  assert.equal(stateAt(b, 2), 'closed');
  b.record('failure', 3); // 2 of 4 = 50 %
  assert.equal(stateAt(b, 3), 'open');
  assert.equal(allowAt(b, 4_999), false);
  assert.equal(stateAt(b, 5_003), 'half-open');
  assert.equal(allowAt(b, 5_003), true);
  assert.equal(allowAt(b, 5_003), true);
  assert.equal(allowAt(b, 5_003), false, 'only K trials');
  b.record('success', 5_010);
  assert.equal(stateAt(b, 5_010), 'half-open');
  b.record('success', 5_020);
  assert.equal(stateAt(b, 5_020), 'closed');
  assert.deepEqual(log, ['closed->open@3', 'open->half-open@5003', 'half-open->closed@5020']);
  assert.equal(b.info(5_020).requests, 0, 'closing starts a fresh window');
});

test('breaker: a failed trial opens it again for another openMs', () => {
  const { b, log } = breaker();
  for (let i = 0; i < 4; i++) b.record('failure', 0);
  assert.equal(allowAt(b, 5_000), true);
  b.record('failure', 5_001);
  assert.equal(stateAt(b, 5_001), 'open');
  assert.equal(b.halfOpenAt(), 10_001);
  assert.deepEqual(log, ['closed->open@0', 'open->half-open@5000', 'half-open->open@5001']);
});

test('breaker: a cancelled trial gives its permit back', () => {
  const { b } = breaker();
  for (let i = 0; i < 4; i++) b.record('failure', 0);
  assert.equal(allowAt(b, 5_000), true);
  assert.equal(allowAt(b, 5_000), true);
  b.record('cancelled', 5_001);
  assert.equal(allowAt(b, 5_002), true);
  assert.equal(stateAt(b, 5_002), 'half-open');
});

test('breaker: failures age out of the rolling window', () => {
  const { b } = breaker();
  b.record('failure', 0);
  b.record('failure', 0);
  b.record('success', 11_000);
  b.record('failure', 11_000);
  b.record('success', 11_000);
  assert.equal(stateAt(b, 11_000), 'closed', 'only 1 of 3 in the window');
});

/** A reference model of the state machine, to compare against (property). */
class Model {
  state: BreakerState = 'closed';
  openedAt = 0;
  inFlight = 0;
  ok = 0;
  window: Array<{ at: number; ok: boolean }> = [];
  tick(now: number): void {
    if (this.state === 'open' && now >= this.openedAt + OPTS.openMs) this.go('half-open');
  }
  go(s: BreakerState): void {
    this.state = s;
    this.inFlight = 0;
    this.ok = 0;
    if (s === 'closed') this.window = [];
  }
  allow(now: number): boolean {
    this.tick(now);
    if (this.state === 'closed') return true;
    if (this.state === 'open') return false;
    if (this.inFlight + this.ok >= OPTS.halfOpenRequests) return false;
    this.inFlight++;
    return true;
  }
  record(outcome: 'success' | 'failure' | 'cancelled', now: number): void {
    this.tick(now);
    if (this.state === 'closed') {
      if (outcome === 'cancelled') return;
      this.window.push({ at: now, ok: outcome === 'success' });
      const bucket = OPTS.windowMs / OPTS.buckets;
      const recent = this.window.filter((r) => Math.floor(r.at / bucket) > Math.floor(now / bucket) - OPTS.buckets);
      const failures = recent.filter((r) => !r.ok).length;
      if (outcome === 'failure' && recent.length >= OPTS.minRequests && failures >= OPTS.failureRatio * recent.length) {
        this.openedAt = now;
        this.go('open');
      }
    } else if (this.state === 'half-open' && this.inFlight > 0) {
      this.inFlight--;
      if (outcome === 'failure') {
        this.openedAt = now;
        this.go('open');
      } else if (outcome === 'success' && ++this.ok >= OPTS.halfOpenRequests) this.go('closed');
    }
  }
}

test('breaker: every transition matches the reference model, and only legal transitions happen (property)', () => {
  const legal = new Set(['closed->open', 'open->half-open', 'half-open->open', 'half-open->closed']);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('allow', 'success', 'failure', 'cancelled'), fc.nat(3_000)), { maxLength: 300 }), (steps) => {
      const seen: string[] = [];
      const b = new CircuitBreaker(OPTS, (from, to) => seen.push(`${from}->${to}`));
      const m = new Model();
      let now = 0;
      for (const [op, dt] of steps) {
        now += dt;
        b.advance(now);
        if (op === 'allow') assert.equal(b.allow(), m.allow(now));
        else {
          b.record(op as 'success' | 'failure' | 'cancelled', now);
          m.record(op as 'success' | 'failure' | 'cancelled', now);
        }
        assert.equal(b.state, (m.tick(now), m.state));
      }
      for (const t of seen) assert.ok(legal.has(t), t);
    }),
    { numRuns: 300 },
  );
});

test('breakers: one per backend, events carry the id, sweep (the tick) moves due ones to half-open, reads change nothing', () => {
  const events: BreakerEvent[] = [];
  const set = new CircuitBreakers(OPTS, (e) => events.push(e));
  for (let i = 0; i < 4; i++) set.record('a', 'failure', 0);
  assert.equal(set.state('a'), 'open');
  assert.equal(set.state('b'), 'closed');
  assert.equal(set.allow('b'), true);
  assert.equal(set.nextHalfOpenAt(), 5_000);
  assert.equal(set.state('a'), 'open', 'a read past the deadline changes nothing');
  assert.deepEqual(
    set.snapshot(6_000).map((s) => s.state),
    ['open', 'closed'],
  );
  set.sweep(5_000);
  assert.deepEqual(
    events.map((e) => `${e.id}:${e.from}->${e.to}`),
    ['a:closed->open', 'a:open->half-open'],
  );
  assert.deepEqual(
    set.snapshot(5_000).map((s) => [s.id, s.state]),
    [
      ['a', 'half-open'],
      ['b', 'closed'],
    ],
  );
  set.setMembers(['b']);
  assert.deepEqual(
    set.snapshot(5_000).map((s) => s.id),
    ['b'],
  );
});

test('breaker: bad options are named', () => {
  assert.throws(() => new CircuitBreaker({ failureRatio: 0 }), /breakerFailureRatio/);
  assert.throws(() => new CircuitBreaker({ halfOpenRequests: 0 }), /breakerHalfOpenRequests/);
});
