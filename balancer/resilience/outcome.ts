import type { ErrorCode } from '../../common/errors.js';

/**
 * What one attempt to a backend says about the backend's health:
 * - `failure`: a 5xx response, or a transport failure (refused, unreachable,
 *   reset, timeouts) — Envoy's consecutive_5xx counts both;
 * - `success`: any other response (a 4xx is the client's problem);
 * - `cancelled`: the client went away before a response (whatever error the
 *   abort caused upstream), or nothing is known; it says nothing either way.
 */
export type Outcome = 'success' | 'failure' | 'cancelled';

export interface AttemptFacts {
  /** Upstream response status, when one arrived. */
  readonly status?: number;
  /** Transport failure mapped onto the catalogue, when one happened. */
  readonly error?: ErrorCode;
  /** The client aborted before the attempt ended. */
  readonly cancelled?: boolean;
}

export function classifyAttempt(f: AttemptFacts): Outcome {
  if (f.status !== undefined) return f.status >= 500 ? 'failure' : 'success';
  if (f.cancelled === true) return 'cancelled';
  return f.error !== undefined ? 'failure' : 'cancelled';
}

/** The hot-path form for a response that arrived: 5xx fails, anything else succeeds. */
export function outcomeOfStatus(status: number): Outcome {
  return status >= 500 ? 'failure' : 'success';
}
