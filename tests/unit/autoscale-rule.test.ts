import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decide, policyFromLabels, recommend, type Recommendation, type ScalePolicy } from '../../controller/autoscale/scale-rule.js';

const policy: ScalePolicy = { min: 2, max: 10, metric: 'inflight', target: 10, tolerance: 0.1, upWindowMs: 0, downWindowMs: 60_000 };

describe("autoscaling by the HPA's rules", () => {
  it('recommends ceil(current × load per replica / target), and nothing within the tolerance', () => {
    assert.deepEqual(recommend(3, 60, policy), { replicas: 6, perReplica: 20, withinTolerance: false });
    assert.deepEqual(recommend(3, 31, policy), { replicas: 3, perReplica: 31 / 3, withinTolerance: true });
    assert.equal(recommend(4, 10, policy).replicas, 1);
    assert.equal(recommend(4, 0, policy).replicas, 0);
  });

  it('scales up at once, and is held to max', () => {
    const d = decide(3, 60, policy, [], 1000);
    assert.equal(d.replicas, 6);
    assert.match(d.reason, /20 in-flight requests per replica against a target of 10: up from 3 to 6/);
    assert.equal(decide(3, 500, policy, [], 1000).replicas, 10);
    assert.match(decide(3, 500, policy, [], 1000).reason, /wants 50, held to the bounds \[2, 10\]/);
  });

  it('scales down only to the highest recommendation of the down window', () => {
    let history: readonly Recommendation[] = [];
    let replicas = 6;
    // Busy at t=0, idle from t=10 s: nothing goes until the busy recommendation leaves the 60 s window.
    const busy = decide(replicas, 60, policy, history, 0);
    history = busy.history;
    const seen: number[] = [];
    for (let t = 10_000; t <= 80_000; t += 10_000) {
      const d = decide(replicas, 5, policy, history, t);
      history = d.history;
      replicas = d.replicas;
      seen.push(replicas);
    }
    assert.deepEqual(seen, [6, 6, 6, 6, 6, 2, 2, 2]);
  });

  it('waits out an up window when one is set', () => {
    const slow = { ...policy, upWindowMs: 30_000 };
    const first = decide(3, 60, slow, [{ at: 0, replicas: 3 }], 10_000);
    assert.equal(first.replicas, 3);
    assert.match(first.reason, /would go up to 6, waiting out the 30 s window/);
    assert.equal(decide(3, 60, slow, first.history, 31_000).replicas, 6);
  });

  it('never leaves [min, max] and never grows the history past the windows', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 400 })), { minLength: 1, maxLength: 40 }), (ticks) => {
        let history: readonly Recommendation[] = [];
        let t = 0;
        for (const [current, load] of ticks) {
          t += 5000;
          const d = decide(current, load, policy, history, t);
          assert.ok(d.replicas >= policy.min && d.replicas <= policy.max);
          assert.ok(d.history.every((r) => r.at > t - policy.downWindowMs));
          history = d.history;
        }
      }),
    );
  });

  it('reads a policy from the service labels, and says what is wrong with a bad one', () => {
    const defaults = { tolerance: 0.1, upWindowMs: 0, downWindowMs: 300_000 };
    assert.equal(policyFromLabels({ 'switchyard.enable': 'true' }, 'switchyard', defaults), undefined);
    assert.deepEqual(
      policyFromLabels({ 'switchyard.autoscale.min': '2', 'switchyard.autoscale.max': '8', 'switchyard.autoscale.target-rps': '150' }, 'switchyard', defaults),
      {
        ok: true,
        policy: { min: 2, max: 8, metric: 'rps', target: 150, ...defaults },
      },
    );
    const bad = (labels: Record<string, string>): string => {
      const r = policyFromLabels(labels, 'switchyard', defaults);
      assert.ok(r && !r.ok);
      return r.reason;
    };
    assert.match(bad({ 'switchyard.autoscale.min': '2', 'switchyard.autoscale.max': '1', 'switchyard.autoscale.target-inflight': '5' }), /max \(1\) is below/);
    assert.match(bad({ 'switchyard.autoscale.min': '1', 'switchyard.autoscale.max': '3' }), /exactly one of/);
    assert.match(
      bad({
        'switchyard.autoscale.min': '1',
        'switchyard.autoscale.max': '3',
        'switchyard.autoscale.target-inflight': '2',
        'switchyard.autoscale.target-rps': '9',
      }),
      /exactly one of/,
    );
    assert.match(bad({ 'switchyard.autoscale.min': 'two', 'switchyard.autoscale.max': '3', 'switchyard.autoscale.target-rps': '9' }), /min is 'two'/);
    assert.match(bad({ 'switchyard.autoscale.min': '1', 'switchyard.autoscale.max': '3', 'switchyard.autoscale.target-rps': '0' }), /above 0/);
  });
});
