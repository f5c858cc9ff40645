import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeStats } from '../../balancer/cluster/merge-stats.js';
import type { WorkerStats, WorkerUpstreamStats } from '../../balancer/cluster/messages.js';

function upstream(id: string, over: Partial<WorkerUpstreamStats> = {}): WorkerUpstreamStats {
  return {
    id,
    inFlight: 1,
    tunnels: 0,
    requests: 10,
    connectionsOpened: 2,
    failures: 1,
    responses: [7, 1, 1, 1],
    lastError: null,
    latencyBuckets: [1, 2, 3],
    latencySumSeconds: 0.5,
    latencyCount: 6,
    window: { count: 4, errors: 1, hist: [1, 3] },
    series: [1, 2],
    facts: { breaker: 'closed', ejected: false, effectiveWeight: 4 },
    ...over,
  };
}

function worker(over: Partial<WorkerStats> = {}): WorkerStats {
  return {
    inFlight: 2,
    requestsTotal: 100,
    retriesTotal: 3,
    errors: [['SWY_NO_BACKEND', 2]],
    admission: null,
    retryBudget: { requests: 10, retries: 1, allowed: 3, granted: 1, rejected: 0, ratio: 0.2, minPerSecond: 3, windowMs: 10_000 },
    ejected: 0,
    upstreams: [upstream('a')],
    waits: {
      connection: { counts: [1, 0], sumSeconds: 0.1 },
      admissionQueue: { counts: [0, 0], sumSeconds: 0 },
      eventLoop: { counts: [5, 1], sumSeconds: 0.2 },
    },
    ...over,
  };
}

describe('mergeStats: the workers of a cluster as one balancer', () => {
  it('sums counters, histograms, windows and history; the worst breaker, any ejection, the mean weight', () => {
    const m = mergeStats([
      worker({ errors: [['SWY_NO_BACKEND', 2]], ejected: 1, upstreams: [upstream('a', { lastError: { code: 'SWY_UPSTREAM_RESET', at: 5 } }), upstream('b')] }),
      worker({
        errors: [
          ['SWY_NO_BACKEND', 1],
          ['SWY_UPSTREAM_TIMEOUT', 4],
        ],
        ejected: 2,
        upstreams: [
          upstream('a', {
            lastError: { code: 'SWY_UPSTREAM_TIMEOUT', at: 9 },
            facts: { breaker: 'half-open', ejected: true, effectiveWeight: 2 },
            series: [1, 1, 1],
          }),
        ],
      }),
    ]);
    assert.equal(m.inFlight, 4);
    assert.equal(m.requestsTotal, 200);
    assert.equal(m.retriesTotal, 6);
    assert.equal(m.ejected, 2);
    assert.deepEqual(
      new Map(m.errors),
      new Map([
        ['SWY_NO_BACKEND', 3],
        ['SWY_UPSTREAM_TIMEOUT', 4],
      ]),
    );
    assert.deepEqual(m.waits.connection, { counts: [2, 0], sumSeconds: 0.2 });
    assert.deepEqual(m.waits.eventLoop.counts, [10, 2]);
    assert.equal(m.retryBudget.requests, 20);
    const a = m.upstreams.find((u) => u.id === 'a')!;
    assert.equal(a.requests, 20);
    assert.deepEqual(a.responses, [14, 2, 2, 2]);
    assert.deepEqual(a.latencyBuckets, [2, 4, 6]);
    assert.deepEqual(a.window, { count: 8, errors: 2, hist: [2, 6] });
    assert.deepEqual(a.series, [2, 3, 1]);
    assert.deepEqual(a.lastError, { code: 'SWY_UPSTREAM_TIMEOUT', at: 9 });
    assert.deepEqual(a.facts, { breaker: 'half-open', ejected: true, effectiveWeight: 3 });
    // A backend only one of two workers knows: its weight counts for half.
    assert.equal(m.upstreams.find((u) => u.id === 'b')!.facts.effectiveWeight, 2);
  });

  it('sums admission where workers report it, and gives an empty model for no workers', () => {
    const adm = { inFlight: 1, queued: 2, limit: 8, queueSize: 16, queueTimeoutMs: 500, admitted: 10, queuedTotal: 3, rejected: 1, timedOut: 0, cancelled: 0 };
    const m = mergeStats([worker({ admission: adm }), worker({ admission: adm }), worker()]);
    assert.deepEqual(m.admission, { ...adm, inFlight: 2, queued: 4, limit: 16, queueSize: 32, admitted: 20, queuedTotal: 6, rejected: 2 });
    const none = mergeStats([]);
    assert.equal(none.inFlight, 0);
    assert.equal(none.admission, null);
    assert.deepEqual(none.upstreams, []);
    assert.deepEqual(none.waits.connection, { counts: [], sumSeconds: 0 });
  });

  it('reads nothing it is given as changed (a pure merge)', () => {
    const w = worker();
    const before = JSON.stringify(w);
    mergeStats([w, w]);
    assert.equal(JSON.stringify(w), before);
  });
});
