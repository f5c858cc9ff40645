/**
 * The strategy seam. A strategy sees only the routable candidates and the
 * request's routing facts, and picks one synchronously; it never does I/O.
 * Candidates are passed in a stable order (by id) between changes, so a
 * strategy may keep a cursor.
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
  readonly path: string;
  header(name: string): string | undefined;
}

export interface Strategy<C extends Candidate = Candidate> {
  readonly name: string;
  pick(candidates: readonly C[], ctx: PickContext): C | undefined;
}
