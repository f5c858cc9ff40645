import { get, json } from './http.js';

/** Polls `check` until it returns a truthy value or the time is up; throws with `what` on timeout. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Waits until a balancer's admin API says it is ready (`/readyz`: listening,
 * registry synced) with at least `minRoutable` backends past their first
 * health checks: the point from which it answers requests, which a log line
 * comes before.
 */
export async function waitReady(adminUrl: string, minRoutable = 0, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    `${adminUrl}/readyz with ${minRoutable} routable backends`,
    async () => {
      const r = await get(`${adminUrl}/readyz`);
      return r.status === 200 && json<{ routableBackends: number }>(r).routableBackends >= minRoutable;
    },
    timeoutMs,
  );
}
