/**
 * Health transitions with HAProxy's rise/fall counting, as a pure function.
 *
 * - `unknown` (new backend): the first passing check makes it healthy (it has
 *   never served, so there is nothing to protect); `fall` failures make it
 *   unhealthy. It receives no traffic until healthy.
 * - `healthy`: `fall` consecutive failures make it unhealthy; a refused
 *   connection does so at once when `refusedIsFatal` (nothing listens there).
 * - `unhealthy`: `rise` consecutive passes make it healthy again.
 */
export type HealthStatus = 'unknown' | 'healthy' | 'unhealthy';
export type CheckOutcome = 'pass' | 'fail' | 'refused';

export interface HealthState {
  readonly status: HealthStatus;
  /** Consecutive passing checks while not healthy. */
  readonly successes: number;
  /** Consecutive failing checks while not unhealthy. */
  readonly failures: number;
}

export interface HealthThresholds {
  readonly rise: number;
  readonly fall: number;
  readonly refusedIsFatal: boolean;
}

export const INITIAL_HEALTH: HealthState = Object.freeze({ status: 'unknown', successes: 0, failures: 0 });

export function nextHealth(s: HealthState, outcome: CheckOutcome, t: HealthThresholds): HealthState {
  const failed = outcome !== 'pass';
  switch (s.status) {
    case 'unknown':
      if (!failed) return { status: 'healthy', successes: 0, failures: 0 };
      return s.failures + 1 >= t.fall ? { status: 'unhealthy', successes: 0, failures: 0 } : { status: 'unknown', successes: 0, failures: s.failures + 1 };
    case 'healthy':
      if (!failed) return s.failures === 0 ? s : { status: 'healthy', successes: 0, failures: 0 };
      if ((outcome === 'refused' && t.refusedIsFatal) || s.failures + 1 >= t.fall) return { status: 'unhealthy', successes: 0, failures: 0 };
      return { status: 'healthy', successes: 0, failures: s.failures + 1 };
    case 'unhealthy':
      if (failed) return s.successes === 0 ? s : { status: 'unhealthy', successes: 0, failures: 0 };
      return s.successes + 1 >= t.rise ? { status: 'healthy', successes: 0, failures: 0 } : { status: 'unhealthy', successes: s.successes + 1, failures: 0 };
  }
}

/** True while counting towards a change of status; checks then run at the fast interval. */
export function inTransition(s: HealthState): boolean {
  return s.status === 'unknown' || s.successes > 0 || s.failures > 0;
}
