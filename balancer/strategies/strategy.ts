/**
 * The strategy seam. A strategy sees only the routable candidates and the
 * request's routing facts, and picks one synchronously; it never does I/O.
 * Candidates are passed in a stable order (by id) between changes, and the
 * array object stays the same until the routable set changes, so a strategy
 * may cache per-array state keyed by the array's identity. `weight` may change
 * between picks (slow start, dynamic weights, registry updates).
 */
export interface Candidate {
  readonly id: string;
  readonly weight: number;
  /** Requests this balancer currently has open to the candidate. */
  readonly inFlight: number;
}

/** What a strategy may route on; filled lazily by the balancer, never by the strategy. */
export interface PickContext {
  readonly clientIp: string;
  /** The request target as received (path and query). */
  readonly path: string;
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
}

export interface Strategy<C extends Candidate = Candidate> {
  readonly name: string;
  /**
   * Picks one candidate, or undefined when none may be picked.
   * `exclude` lists candidates already tried for this request (retries): they
   * are skipped without building a filtered array, so per-array caches stay
   * warm. Passing a filtered array instead also works, only slower.
   */
  pick(candidates: readonly C[], ctx: PickContext, exclude?: readonly C[]): C | undefined;
  /**
   * Optional: strategies that learn from results (dynamic-weighted) take
   * every finished attempt. `ok` is false for 5xx and transport failures.
   */
  observe?(id: string, latencyMs: number, ok: boolean, now: number): void;
  /**
   * Optional, for X-LB-Decision only (never on the plain request path): the
   * candidates this strategy passed over on its way to `picked` for this
   * request, with why (consistent-hash: `over-bounded-load`).
   */
  passedOver?(candidates: readonly C[], ctx: PickContext, picked: C, exclude?: readonly C[]): readonly { readonly id: string; readonly reason: string }[];
  /** Optional: called on a timer (about once a second) with the routable set. */
  refresh?(candidates: readonly C[], now: number): void;
  /**
   * Optional (sticky sessions): the `Set-Cookie` value that pins the client
   * to `served`, the backend that answered; undefined when the request
   * already carries it.
   */
  setCookieFor?(ctx: PickContext, served: C): string | undefined;
  /** Optional (strategies that reweigh backends, dynamic-weighted): the weight `c` has in picks now, for /stats. */
  weightOf?(c: C): number;
}

/** True when `c` is in `exclude` (a handful of tried candidates at most). */
export function isExcluded<C>(c: C, exclude: readonly C[] | undefined): boolean {
  if (exclude === undefined) return false;
  for (let i = 0; i < exclude.length; i++) if (exclude[i] === c) return true;
  return false;
}

/** How many candidates are not excluded. */
export function countEligible<C>(candidates: readonly C[], exclude: readonly C[] | undefined): number {
  if (exclude === undefined || exclude.length === 0) return candidates.length;
  let n = 0;
  for (let i = 0; i < candidates.length; i++) if (!isExcluded(candidates[i], exclude)) n++;
  return n;
}

/** The k-th (0-based) candidate that is not excluded; undefined past the end. */
export function nthEligible<C>(candidates: readonly C[], exclude: readonly C[] | undefined, k: number): C | undefined {
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    if (isExcluded(c, exclude)) continue;
    if (k-- === 0) return c;
  }
  return undefined;
}
