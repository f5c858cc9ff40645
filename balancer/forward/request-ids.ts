import { randomBytes } from 'node:crypto';

/**
 * Request ids for requests that bring none (X-Request-Id): a random prefix
 * per balancer and a counter, `3f9a01c2-1`, `3f9a01c2-2`, ...: unique across
 * balancers and restarts, cheap on the hot path.
 */
export function requestIds(): () => string {
  const prefix = randomBytes(4).toString('hex');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}
