import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INITIAL_HEALTH, inTransition, nextHealth, type CheckOutcome, type HealthState } from '../../balancer/health/health-state.js';

const T = { rise: 2, fall: 3, refusedIsFatal: true };

function run(outcomes: CheckOutcome[], from: HealthState = INITIAL_HEALTH, t = T): string[] {
  let s = from;
  return outcomes.map((o) => (s = nextHealth(s, o, t)).status);
}

describe('health transitions (rise/fall)', () => {
  const table: [string, CheckOutcome[], string[], typeof T?][] = [
    ['a new backend is healthy after its first pass', ['pass'], ['healthy']],
    ['a new backend stays unknown until fall failures', ['fail', 'fail', 'fail'], ['unknown', 'unknown', 'unhealthy']],
    ['a refused new backend is not fatal before it ever passed', ['refused', 'pass'], ['unknown', 'healthy']],
    ['healthy needs fall consecutive failures', ['pass', 'fail', 'fail', 'fail'], ['healthy', 'healthy', 'healthy', 'unhealthy']],
    ['a pass resets the failure count', ['pass', 'fail', 'fail', 'pass', 'fail', 'fail'], ['healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'healthy']],
    ['a refused connection takes a healthy backend out at once', ['pass', 'refused'], ['healthy', 'unhealthy']],
    ['unless refusals are counted like failures', ['pass', 'refused', 'refused'], ['healthy', 'healthy', 'healthy'], { ...T, refusedIsFatal: false }],
    ['unhealthy needs rise consecutive passes', ['pass', 'refused', 'pass', 'pass'], ['healthy', 'unhealthy', 'unhealthy', 'healthy']],
    [
      'a failure resets the rise count',
      ['pass', 'refused', 'pass', 'fail', 'pass', 'pass'],
      ['healthy', 'unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'healthy'],
    ],
    ['rise 1 returns on the first pass', ['pass', 'refused', 'pass'], ['healthy', 'unhealthy', 'healthy'], { ...T, rise: 1 }],
  ];
  for (const [what, outcomes, expected, t] of table) {
    it(what, () => assert.deepEqual(run(outcomes, INITIAL_HEALTH, t ?? T), expected));
  }

  it('counts fast while in transition and slow when settled', () => {
    assert.equal(inTransition(INITIAL_HEALTH), true);
    const healthy = nextHealth(INITIAL_HEALTH, 'pass', T);
    assert.equal(inTransition(healthy), false);
    assert.equal(inTransition(nextHealth(healthy, 'fail', T)), true);
    const down = nextHealth(healthy, 'refused', T);
    assert.equal(inTransition(down), false);
    assert.equal(inTransition(nextHealth(down, 'pass', T)), true);
  });
});
