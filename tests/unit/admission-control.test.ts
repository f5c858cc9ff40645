import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AdmissionControl, type Admission, type QueueWaiter } from '../../balancer/resilience/admission-control.js';
import { FakeScheduler } from './support/lb-fixtures.js';

class Waiter implements QueueWaiter {
  result: 'granted' | 'timed-out' | undefined;
  waited = -1;
  constructor(
    readonly log?: string[],
    readonly name = '',
  ) {}
  granted(waitedMs: number): void {
    assert.equal(this.result, undefined, 'settled twice');
    this.result = 'granted';
    this.waited = waitedMs;
    this.log?.push(this.name);
  }
  timedOut(waitedMs: number): void {
    assert.equal(this.result, undefined, 'settled twice');
    this.result = 'timed-out';
    this.waited = waitedMs;
  }
}

test('admission: C + Q + k concurrent requests give exactly C admitted, Q queued and k rejected; the queue never exceeds Q (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 150 }), (c, q, k) => {
      const clock = new FakeScheduler();
      const ac = new AdmissionControl({ maxInFlight: c, queueSize: q, queueTimeoutMs: 1_000 }, clock);
      const results: Admission[] = [];
      for (let i = 0; i < c + q + k; i++) {
        results.push(ac.tryAcquire(new Waiter()));
        assert.ok(ac.queued <= q);
        assert.ok(ac.inFlight <= c);
      }
      assert.equal(results.filter((r) => r.status === 'granted').length, c);
      assert.equal(results.filter((r) => r.status === 'queued').length, q);
      assert.equal(results.filter((r) => r.status === 'rejected').length, k);
      assert.deepEqual({ inFlight: ac.status().inFlight, queued: ac.status().queued, rejected: ac.status().rejected }, { inFlight: c, queued: q, rejected: k });
    }),
  );
});

test('admission: release hands the slot to the head of the queue, in FIFO order', () => {
  const clock = new FakeScheduler();
  const ac = new AdmissionControl({ maxInFlight: 1, queueSize: 3, queueTimeoutMs: 1_000 }, clock);
  const log: string[] = [];
  assert.equal(ac.tryAcquire(new Waiter(log, 'first')).status, 'granted');
  const waiters = ['a', 'b', 'c'].map((n) => new Waiter(log, n));
  for (const w of waiters) assert.equal(ac.tryAcquire(w).status, 'queued');
  clock.advance(100);
  ac.release();
  assert.deepEqual(log, ['a']);
  assert.equal(waiters[0]!.waited, 100);
  ac.release();
  ac.release();
  assert.deepEqual(log, ['a', 'b', 'c']);
  assert.equal(ac.inFlight, 1);
  ac.release();
  assert.equal(ac.inFlight, 0);
  assert.equal(clock.pendingTimers, 0, 'no timer left once the queue is empty');
});

test('admission: a queued request times out after queueTimeoutMs, in order, and is counted', () => {
  const clock = new FakeScheduler();
  const ac = new AdmissionControl({ maxInFlight: 1, queueSize: 5, queueTimeoutMs: 1_000 }, clock);
  ac.tryAcquire(new Waiter());
  const early = new Waiter();
  ac.tryAcquire(early);
  clock.advance(400);
  const late = new Waiter();
  ac.tryAcquire(late);
  clock.advance(599);
  assert.equal(early.result, undefined);
  clock.advance(1);
  assert.equal(early.result, 'timed-out');
  assert.equal(early.waited, 1_000);
  assert.equal(late.result, undefined);
  clock.advance(400);
  assert.equal(late.result, 'timed-out');
  assert.deepEqual([ac.status().timedOut, ac.queued, ac.inFlight], [2, 0, 1]);
});

test('admission: a cancelled ticket leaves the queue and hears nothing more', () => {
  const clock = new FakeScheduler();
  const ac = new AdmissionControl({ maxInFlight: 1, queueSize: 2, queueTimeoutMs: 1_000 }, clock);
  ac.tryAcquire(new Waiter());
  const gone = new Waiter();
  const r = ac.tryAcquire(gone);
  assert.equal(r.status, 'queued');
  const stays = new Waiter();
  ac.tryAcquire(stays);
  if (r.status === 'queued') {
    r.ticket.cancel();
    r.ticket.cancel();
  }
  assert.equal(ac.queued, 1);
  ac.release();
  assert.equal(gone.result, undefined);
  assert.equal(stays.result, 'granted');
  clock.advance(5_000);
  assert.equal(gone.result, undefined);
  assert.equal(ac.status().cancelled, 1);
});

test('admission: queue size 0 rejects at the cap', () => {
  const ac = new AdmissionControl({ maxInFlight: 2, queueSize: 0, queueTimeoutMs: 1_000 }, new FakeScheduler());
  assert.deepEqual(
    [1, 2, 3].map(() => ac.tryAcquire(new Waiter()).status),
    ['granted', 'granted', 'rejected'],
  );
});

test('admission: raising the limit admits queued requests at once; lowering it lets in-flight drain', () => {
  const clock = new FakeScheduler();
  const ac = new AdmissionControl({ maxInFlight: 2, queueSize: 10, queueTimeoutMs: 1_000 }, clock);
  const ws = Array.from({ length: 6 }, () => new Waiter());
  for (const w of ws) ac.tryAcquire(w);
  ac.setLimit(4);
  // The first two were admitted on the spot (no callback); two queued ones are now granted.
  assert.deepEqual(
    ws.map((w) => w.result),
    [undefined, undefined, 'granted', 'granted', undefined, undefined],
  );
  assert.equal(ac.inFlight, 4);
  ac.setLimit(1);
  ac.release();
  ac.release();
  assert.equal(ac.inFlight, 2, 'still above the new cap: nothing admitted');
  assert.equal(ws[4]!.result, undefined);
  ac.release();
  ac.release();
  assert.equal(ws[4]!.result, 'granted');
  assert.equal(ac.inFlight, 1);
});

test('admission: a waiter that releases at once from its callback does not break the order', () => {
  const clock = new FakeScheduler();
  const ac = new AdmissionControl({ maxInFlight: 1, queueSize: 5, queueTimeoutMs: 1_000 }, clock);
  ac.tryAcquire(new Waiter());
  const order: string[] = [];
  const quick: QueueWaiter = { granted: () => (order.push('quick'), ac.release()), timedOut: () => order.push('quick-timeout') };
  const next = new Waiter(order, 'next');
  ac.tryAcquire(quick);
  ac.tryAcquire(next);
  ac.release();
  assert.deepEqual(order, ['quick', 'next']);
  assert.equal(ac.inFlight, 1);
});

test('admission: close() times out everyone waiting and clears the timer', () => {
  const clock = new FakeScheduler();
  const ac = new AdmissionControl({ maxInFlight: 1, queueSize: 5, queueTimeoutMs: 1_000 }, clock);
  ac.tryAcquire(new Waiter());
  const ws = [new Waiter(), new Waiter()];
  for (const w of ws) ac.tryAcquire(w);
  ac.close();
  assert.deepEqual(
    ws.map((w) => w.result),
    ['timed-out', 'timed-out'],
  );
  assert.equal(clock.pendingTimers, 0);
});

test('admission: status for /queue/status and Retry-After', () => {
  const ac = new AdmissionControl({ maxInFlight: 3, queueSize: 7, queueTimeoutMs: 2_500 }, new FakeScheduler());
  assert.deepEqual(ac.status(), {
    inFlight: 0,
    queued: 0,
    limit: 3,
    queueSize: 7,
    queueTimeoutMs: 2_500,
    admitted: 0,
    queuedTotal: 0,
    rejected: 0,
    timedOut: 0,
    cancelled: 0,
  });
  assert.equal(ac.retryAfterSeconds(), 3);
  assert.throws(() => new AdmissionControl({ maxInFlight: 0 }), /maxInFlight/);
  assert.throws(() => new AdmissionControl({ queueSize: -1 }), /queueSize/);
  assert.throws(() => new AdmissionControl({ queueTimeoutMs: 0 }), /queueTimeoutMs/);
});
