import type { Outcome } from '../resilience/outcome.js';
import type { Upstream } from '../upstream.js';
import type { ForwardHost } from './forwarder.js';

/** The fields of the attempt in progress, as every engine's exchange keeps them. */
export interface AttemptState {
  readonly upstream: Upstream | undefined;
  /** The attempt is counted in its backend's in-flight requests and not yet ended. */
  attemptOpen: boolean;
  readonly attemptStartedAt: number;
  /** Milliseconds from sending the attempt to its response head; -1 until it arrives. */
  readonly headMs: number;
}

/**
 * Ends the accounting of the current attempt, once: its backend's in-flight
 * count, its latency (to the response head when there was one), and what the
 * attempt says of the backend (`outcome`) for health and resilience.
 */
export function closeAttempt(host: ForwardHost, a: AttemptState, outcome: Outcome): Upstream {
  const up = a.upstream!;
  if (a.attemptOpen) {
    a.attemptOpen = false;
    const ms = performance.now() - a.attemptStartedAt;
    up.attemptEnded(ms * 1000, outcome === 'failure');
    host.attemptEnded(up, outcome, a.headMs >= 0 ? a.headMs : ms);
  }
  return up;
}
