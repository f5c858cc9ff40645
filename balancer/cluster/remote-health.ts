import type { HealthChecker, HealthTarget } from '../health/health-checker.js';
import type { HealthStatus } from '../health/health-state.js';

/**
 * A worker's health checker: the primary checks every backend once for all
 * workers and forwards each change; live-traffic hints go back to it.
 */
export class RemoteHealth implements HealthChecker {
  readonly #sink: (id: string, status: HealthStatus) => void;
  readonly #hint: (id: string) => void;
  readonly #known = new Map<string, HealthStatus>();
  readonly #watched = new Set<string>();

  constructor(sink: (id: string, status: HealthStatus) => void, hint: (id: string) => void) {
    this.#sink = sink;
    this.#hint = hint;
  }

  async start(): Promise<void> {}
  async close(): Promise<void> {}

  /** States from the primary, for backends known or not yet known here. */
  receive(states: readonly (readonly [string, HealthStatus])[]): void {
    for (const [id, status] of states) {
      this.#known.set(id, status);
      if (this.#watched.has(id)) this.#sink(id, status);
    }
  }

  watch(target: HealthTarget): void {
    this.#watched.add(target.id);
    const s = this.#known.get(target.id);
    if (s !== undefined) this.#sink(target.id, s);
  }

  unwatch(id: string): void {
    this.#watched.delete(id);
  }

  checkSoon(id: string): void {
    this.#hint(id);
  }

  state(): undefined {
    return undefined;
  }
}
