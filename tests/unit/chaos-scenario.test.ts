import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseScenario, ScenarioError } from '../../cli/chaos/scenario.js';

const VALID = [
  'name: t',
  'target: demo',
  'backends: 3',
  'load:',
  '  duration: 10s',
  'steps:',
  '  - { at: 2s, action: kill, target: backend-2, converge: 1s }',
  '  - at: 5s',
  '    action: fault',
  '    target: backend-1',
  '    fault: { latencyMs: 200 }',
].join('\n');

function fails(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseScenario(text, 's.yaml'),
    (err: unknown) => err instanceof ScenarioError && pattern.test(err.message),
  );
}

describe('chaos scenario language', () => {
  it('reads durations, defaults and steps', () => {
    const s = parseScenario(VALID, 's.yaml');
    assert.equal(s.load.duration, 10_000);
    assert.equal(s.load.connections, 8);
    assert.deepEqual(s.strategies, ['round-robin']);
    assert.equal(s.bounds.lostIdempotent, 0);
    assert.deepEqual(
      s.steps.map((x) => [x.at, x.action, x.target, x.converge]),
      [
        [2000, 'kill', 'backend-2', 1000],
        [5000, 'fault', 'backend-1', undefined],
      ],
    );
  });

  it('reads JSON too', () => {
    const s = parseScenario(
      JSON.stringify({ name: 'j', target: 'demo', load: { duration: 3000 }, steps: [{ at: 1000, action: 'stop', target: 'backend-1' }] }),
      's.json',
    );
    assert.equal(s.steps[0]!.action, 'stop');
  });

  it('names the file, line and field of what is wrong', () => {
    fails(VALID.replace('action: kill', 'action: explode'), /^s\.yaml:7: steps\[0\]\.action: /);
    fails(VALID.replace('at: 5s', 'at: 5 parsecs'), /^s\.yaml:8: steps\[1\]\.at: '5 parsecs' is not a duration/);
    fails(VALID.replace('target: backend-2', 'target: backend-9'), /^s\.yaml:7: steps\[0\]\.target: there are 3 backends at this point/);
    fails(VALID.replace('    fault: { latencyMs: 200 }', '    every: 1s'), /^s\.yaml:8: steps\[1\]\.fault: action fault needs a fault/);
    fails(VALID.replace('at: 5s', 'at: 1s'), /^s\.yaml:8: steps\[1\]\.at: steps go in time order/);
    fails(VALID.replace('at: 5s', 'at: 12s'), /steps\[1\]\.at: after the load ends/);
    fails(VALID.replace('backends: 3', 'backends: 3\nsurprise: 1'), /^s\.yaml:1: scenario: Unrecognized key/i);
    fails(VALID.replace('  duration: 10s', '  duration: [10s'), /^s\.yaml:\d+: /);
  });

  it('takes scale, Redis and the controller on compose only, each with the actions that fit it', () => {
    const compose = VALID.replace('target: demo', 'target: compose');
    const step = (s: string): string => compose.replace('  - { at: 2s, action: kill, target: backend-2, converge: 1s }', `  - ${s}`);
    const s = parseScenario(step('{ at: 2s, action: scale, target: backend, replicas: 5 }'), 's.yaml');
    assert.equal(s.steps[0]!.replicas, 5);
    parseScenario(step('{ at: 2s, action: stop, target: redis }'), 's.yaml');
    parseScenario(step('{ at: 2s, action: restart, target: controller }'), 's.yaml');
    fails(step('{ at: 2s, action: scale, target: backend }'), /steps\[0\]\.replicas: action scale needs replicas/);
    fails(step('{ at: 2s, action: scale, target: backend-1, replicas: 2 }'), /steps\[0\]\.target: scale goes with target backend/);
    fails(step('{ at: 2s, action: flap, target: redis, every: 1s }'), /steps\[0\]\.action: redis can be given: stop, start, restart, kill/);
    fails(VALID.replace('target: backend-2, converge: 1s', 'target: redis'), /steps\[0\]\.target: the demo has backends only/);
    fails(
      compose.replace('backends: 3', "backends: 3\nbalancerArgs: [--retries, '0']"),
      /^s\.yaml:4: balancerArgs: the Compose stack's balancer is configured in docker-compose\.yml/,
    );
    // After a scale to 5, backend-5 exists.
    parseScenario(
      step('{ at: 1s, action: scale, target: backend, replicas: 5 }\n  - { at: 2s, action: kill, target: backend-5 }').replace(
        'target: backend-1\n    fault',
        'target: backend-4\n    fault',
      ),
      's.yaml',
    );
  });

  it('accepts the scenarios shipped under scenarios/', () => {
    for (const f of ['scenarios/demo-quick.yaml', 'scenarios/docker-quick.yaml', 'scenarios/docker-full.yaml']) parseScenario(readFileSync(f, 'utf8'), f);
  });
});
