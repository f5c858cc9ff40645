import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OutlierDetector, type OutlierEvent } from '../../balancer/resilience/outlier-detector.js';

function detector(options: ConstructorParameters<typeof OutlierDetector>[0] = {}, members = ['a', 'b', 'c']): { d: OutlierDetector; events: OutlierEvent[] } {
  const events: OutlierEvent[] = [];
  const d = new OutlierDetector(options, (e) => events.push(e));
  d.setMembers(members, 0);
  return { d, events };
}

/** The owner's tick at `now`, then the read: an ejection ends by time only in the tick. */
function ejectedAt(d: OutlierDetector, id: string, now: number): boolean {
  d.sweep(now);
  return d.isEjected(id);
}

function fail(d: OutlierDetector, id: string, times: number, now: number): void {
  for (let i = 0; i < times; i++) d.record(id, 'failure', now);
}

test('outlier: N consecutive failures eject; fewer, or interrupted by a success, do not', () => {
  const { d, events } = detector({ consecutiveFailures: 5 });
  fail(d, 'a', 4, 0);
  d.record('a', 'success', 0);
  fail(d, 'a', 4, 0);
  assert.equal(ejectedAt(d, 'a', 0), false);
  d.record('a', 'cancelled', 0); // says nothing
  d.record('a', 'failure', 0);
  assert.equal(ejectedAt(d, 'a', 0), true);
  assert.deepEqual(events, [{ type: 'ejected', id: 'a', at: 0, until: 30_000, ejections: 1 }]);
});

test('outlier: ejection lasts base x times ejected, capped at max, and ends with a returned event', () => {
  const { d, events } = detector({ consecutiveFailures: 1, baseEjectionMs: 30_000, maxEjectionMs: 100_000, decayIntervalMs: 1e9 });
  const expected = [30_000, 60_000, 90_000, 100_000, 100_000];
  let now = 0;
  for (const length of expected) {
    d.record('a', 'failure', now);
    assert.equal(ejectedAt(d, 'a', now + length - 1), true);
    assert.equal(ejectedAt(d, 'a', now + length), false);
    now += length;
  }
  const returned = events.filter((e) => e.type === 'returned');
  assert.equal(returned.length, 5);
  assert.equal(d.nextReturnAt(), undefined);
  d.record('a', 'failure', now);
  assert.equal(d.isEjected('a'), true);
  assert.equal(d.snapshot(now + 1e9).find((h) => h.id === 'a')!.ejected, true, 'a read long past the end changes nothing');
  assert.equal(d.isEjected('a'), true, 'until the tick');
  d.sweep(now + 1e9);
  assert.equal(d.isEjected('a'), false);
});

test('outlier: results while ejected are ignored', () => {
  const { d } = detector({ consecutiveFailures: 2 });
  fail(d, 'a', 2, 0);
  fail(d, 'a', 10, 1);
  assert.equal(d.snapshot(1).find((h) => h.id === 'a')!.ejections, 1);
});

test('outlier: the times-ejected count decays one per healthy interval', () => {
  const { d } = detector({ consecutiveFailures: 1, baseEjectionMs: 10_000, decayIntervalMs: 10_000 });
  d.record('a', 'failure', 0); // 1st: 10 s
  d.sweep(10_000); // the tick returns it
  d.record('a', 'failure', 10_000); // 2nd: 20 s, back at 30 s
  assert.equal(d.nextReturnAt(), 30_000);
  d.sweep(30_000);
  // Healthy 30 s: the count drops from 2 by 3, to 0, so the next ejection is the base again.
  d.record('a', 'failure', 60_000);
  assert.equal(d.nextReturnAt(), 70_000);
});

test('outlier: at most maxEjectionPercent of members are ejected, but always at least one (Envoy)', () => {
  const members = Array.from({ length: 10 }, (_, i) => `m${i}`);
  const { d, events } = detector({ consecutiveFailures: 1, maxEjectionPercent: 20 }, members);
  for (const id of members) d.record(id, 'failure', 0);
  assert.equal(d.ejectedCount, 2);
  assert.equal(events.filter((e) => e.type === 'overflow').length, 8);

  const small = detector({ consecutiveFailures: 1, maxEjectionPercent: 10 }, ['x', 'y']).d;
  small.record('x', 'failure', 0);
  small.record('y', 'failure', 0);
  assert.equal(ejectedAt(small, 'x', 0), true, '10 % of 2 still allows one');
  assert.equal(ejectedAt(small, 'y', 0), false);

  const off = detector({ consecutiveFailures: 1, maxEjectionPercent: 0 }, ['x']).d;
  off.record('x', 'failure', 0);
  assert.equal(ejectedAt(off, 'x', 0), false, '0 % turns ejection off');
});

test('outlier: the ejected share never exceeds max(one, maxEjectionPercent) (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 1, max: 100 }),
      fc.array(fc.tuple(fc.nat(29), fc.constantFrom('success', 'failure', 'failure', 'failure') as fc.Arbitrary<'success' | 'failure'>, fc.nat(20_000)), {
        maxLength: 400,
      }),
      (n, percent, steps) => {
        const members = Array.from({ length: n }, (_, i) => `m${i}`);
        const d = new OutlierDetector({ consecutiveFailures: 2, maxEjectionPercent: percent, baseEjectionMs: 10_000 });
        d.setMembers(members, 0);
        let now = 0;
        for (const [which, outcome, dt] of steps) {
          now += dt;
          d.sweep(now);
          d.record(members[which % n]!, outcome, now);
          const ejected = members.filter((id) => d.isEjected(id)).length;
          assert.ok(ejected <= Math.max(1, Math.ceil((percent * n) / 100)), `${ejected} of ${n} ejected at ${percent} %`);
          assert.equal(ejected, d.ejectedCount);
        }
      },
    ),
  );
});

test('outlier: setMembers drops state of removed backends', () => {
  const { d } = detector({ consecutiveFailures: 1 });
  d.record('a', 'failure', 0);
  assert.equal(d.ejectedCount, 1);
  d.setMembers(['b', 'c'], 1);
  assert.equal(d.ejectedCount, 0);
  assert.equal(ejectedAt(d, 'a', 1), false);
});

test('outlier: bad options are named', () => {
  assert.throws(() => new OutlierDetector({ consecutiveFailures: 0 }), /outlierConsecutiveFailures/);
  assert.throws(() => new OutlierDetector({ maxEjectionPercent: 150 }), /maxEjectionPercent/);
  assert.throws(() => new OutlierDetector({ baseEjectionMs: 10, maxEjectionMs: 5 }), /maxEjectionMs/);
});

test('outlier: once members are set, late results for a removed backend are ignored', () => {
  const { d } = detector({ consecutiveFailures: 1 }, ['a', 'b']);
  d.record('gone', 'failure', 0);
  assert.equal(ejectedAt(d, 'gone', 0), false);
  assert.deepEqual(
    d.snapshot(0).map((h) => h.id),
    ['a', 'b'],
  );
});

test('outlier detection: a passing active health check ends an ejection early, keeping the count', () => {
  const events: string[] = [];
  const d = new OutlierDetector({ consecutiveFailures: 2, baseEjectionMs: 30_000, maxEjectionPercent: 100 }, (e) => events.push(`${e.type}:${e.id}`));
  d.setMembers(['a', 'b'], 0);
  d.record('a', 'failure', 1);
  d.record('a', 'failure', 2);
  assert.equal(ejectedAt(d, 'a', 3), true);
  d.uneject('a', 1000);
  assert.equal(ejectedAt(d, 'a', 1001), false);
  assert.deepEqual(events, ['ejected:a', 'returned:a']);
  d.record('a', 'failure', 1002);
  d.record('a', 'failure', 1003);
  assert.equal(d.snapshot(1004).find((h) => h.id === 'a')!.ejectedUntil, 1003 + 60_000, 'the second ejection is twice as long');
  d.uneject('b', 1005);
  assert.deepEqual(events, ['ejected:a', 'returned:a', 'ejected:a'], 'unejecting a backend that is not ejected does nothing');
});
