import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestRecord } from '../../cli/chaos/chaos-load.js';
import { buildRunReport, convergence, converges, type SeenEvent, type StepRun } from '../../cli/chaos/chaos-report.js';
import { parseScenario } from '../../cli/chaos/scenario.js';

const rec = (id: string, method: 'GET' | 'POST', sentMs: number, ok: boolean, backend?: string, status = ok ? 200 : 502): RequestRecord => ({
  id,
  method,
  sentMs,
  doneMs: sentMs + 5,
  status,
  backend,
  ok,
  error: ok ? undefined : `status ${status}`,
});

const step = (over: Partial<StepRun>): StepRun => ({
  atMs: 1000,
  faultAtMs: 1000,
  faultAtById: new Map(),
  action: 'kill',
  target: 'b2',
  targets: ['b2'],
  converges: 'removed',
  convergeBoundMs: undefined,
  ...over,
});

describe('chaos report', () => {
  it('says what each action converges to: out, back, or nothing (a slow backend stays in)', () => {
    assert.equal(converges('kill'), 'removed');
    assert.equal(converges('unpause'), 'back');
    assert.equal(converges('scale', true), 'back');
    assert.equal(converges('scale', false), 'removed');
    assert.equal(converges('fault', true, false), null);
    assert.equal(converges('fault', true, true), 'removed');
    assert.equal(converges('restart'), null);
  });

  it('measures removal to the first event that takes the backend out, back to its first answer, from when the fault took effect, the slowest backend counting', () => {
    const events: SeenEvent[] = [
      { atMs: 900, type: 'unhealthy', backendId: 'b2' },
      { atMs: 1200, type: 'state-changed', backendId: 'b2', detail: 'active -> draining' },
      { atMs: 1500, type: 'removed', backendId: 'b4' },
    ];
    assert.equal(convergence(step({}), [], events, 9000), 200);
    assert.equal(convergence(step({ faultAtMs: 1100, faultAtById: new Map([['b2', 1150]]) }), [], events, 9000), 50);
    assert.equal(convergence(step({ targets: ['b2', 'b4'] }), [], events, 9000), 500);
    assert.equal(convergence(step({ targets: ['b2', 'b5'] }), [], events, 9000), null, 'one never left');
    assert.equal(convergence(step({}), [], events, 1100), null, 'not before the next step');
    const records = [rec('a', 'GET', 1300, false), rec('b', 'GET', 1400, true, 'b1'), rec('c', 'GET', 1700, true, 'b2')];
    assert.equal(convergence(step({ converges: 'back' }), records, [], 9000), 700);
    assert.equal(convergence(step({ converges: null }), records, events, 9000), null);
  });

  it('counts sent and lost per step window and in all, GETs and POSTs apart, and names each broken bound', () => {
    const scenario = parseScenario(
      'name: t\ntarget: demo\nbackends: 2\nload: { duration: 10s }\nbounds: { lostIdempotent: 0, p99Ms: 1000 }\nsteps:\n  - { at: 1s, action: kill, target: backend-2, converge: 100ms }',
      's.yaml',
    );
    const records = [rec('1', 'GET', 500, true, 'b1'), rec('2', 'GET', 1100, false), rec('3', 'POST', 1200, false), rec('4', 'POST', 1300, true, 'b1')];
    const r = buildRunReport(
      scenario,
      'round-robin',
      [step({ targets: ['b2'], convergeBoundMs: 100 })],
      records,
      [{ atMs: 1250, type: 'unhealthy', backendId: 'b2' }],
      [
        { id: 'b1', routable: true, serving: true },
        { id: 'b2', routable: true, serving: false },
      ],
      10_000,
    );
    assert.deepEqual([r.sent, r.lost, r.lostIdempotent, r.lostNonIdempotent], [4, 2, 1, 1]);
    assert.deepEqual([r.steps[0]!.sent, r.steps[0]!.lost, r.steps[0]!.convergedMs], [3, 2, 250]);
    assert.deepEqual(r.lostBy, { 'status 502': 2 });
    assert.equal(r.ok, false);
    assert.deepEqual(r.broken, [
      '1 idempotent requests lost (bound 0)',
      'step at 1.0 s (kill b2): converged in 250 ms (bound 100 ms)',
      'after the run the balancer routes to b2, which does not serve',
    ]);
  });

  it('reports a step the target could not carry out as such, not as a convergence that never came', () => {
    const scenario = parseScenario(
      'name: t\ntarget: demo\nbackends: 2\nload: { duration: 10s }\nbounds: { lostIdempotent: 0 }\nsteps:\n  - { at: 1s, action: pause, target: backend-1, converge: 1s }',
      's.yaml',
    );
    const failed = step({
      action: 'pause',
      target: 'backend-1',
      targets: [],
      convergeBoundMs: 1000,
      error: 'stack.sh pause 1 failed (exit 1): no such container',
    });
    const r = buildRunReport(scenario, 'round-robin', [failed], [rec('1', 'GET', 1500, true, 'b1')], [], [], 10_000);
    assert.equal(r.ok, false);
    assert.equal(r.steps[0]!.error, 'stack.sh pause 1 failed (exit 1): no such container');
    assert.deepEqual(r.broken, ['step at 1.0 s (pause backend-1): could not be carried out: stack.sh pause 1 failed (exit 1): no such container']);
  });

  it("judges a step with bounds of its own by them, and the scenario's bounds by the requests outside such steps", () => {
    const scenario = parseScenario(
      'name: t\ntarget: demo\nbackends: 2\nload: { duration: 10s }\nbounds: { lostIdempotent: 0, p99Ms: 1 }\nsteps:\n' +
        '  - { at: 1s, action: fault, target: backend-2, fault: { hang: true }, bounds: { lostIdempotent: 2, p99Ms: 100 } }\n' +
        '  - { at: 2s, action: clear-fault, target: backend-2 }',
      's.yaml',
    );
    assert.deepEqual(scenario.steps[0]!.bounds, { lostIdempotent: 2, p99Ms: 100 });
    const records = [rec('1', 'GET', 1100, false), rec('2', 'GET', 1200, false), rec('3', 'POST', 1300, false), rec('4', 'GET', 1400, true, 'b1')];
    const steps = [step({ action: 'fault', converges: null, bounds: scenario.steps[0]!.bounds }), step({ atMs: 2000, action: 'clear-fault', converges: null })];
    const report = (more: RequestRecord[]) => buildRunReport(scenario, 'round-robin', steps, [...records, ...more], [], [], 10_000);
    assert.deepEqual(report([]).broken, [], 'two GETs lost in the step that allows two; p99 5 ms within its own 100 ms');
    assert.deepEqual(report([rec('5', 'GET', 1500, false)]).broken, ['step at 1.0 s (fault b2): 3 idempotent requests lost (bound 2)']);
    assert.deepEqual(report([rec('6', 'GET', 2500, false)]).broken, [
      '1 idempotent requests lost outside the steps with a bound of their own (bound 0)',
      'step at 2.0 s (clear-fault b2): p99 5 ms (bound 1 ms)',
    ]);
    assert.throws(
      () =>
        parseScenario('name: t\ntarget: demo\nload: { duration: 10s }\nsteps:\n  - { at: 1s, action: kill, target: backend-2, bounds: { lost: 1 } }', 's.yaml'),
      /s\.yaml:5: steps\[0\]\.bounds: .*lost/,
    );
  });
});
