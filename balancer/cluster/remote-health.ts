import type { HealthChecker, HealthTarget } from '../health/health-checker.js';
import type { HealthStatus } from '../health/health-state.js';
import type { CheckedHealth } from './messages.js';

/**
 * A worker's health checker: the primary checks every backend once for all
 * workers and forwards each change; live-traffic hints go back to it.
 *
 * Every state names the URL it is about, and reaches a backend only while
 * that URL is the one watched: when the registry moves a backend to another
 * URL, what was known of the old one (kept here, or still on its way from
 * the primary) never marks the new one healthy.
 */
export class RemoteHealth implements HealthChecker {
  readonly #sink: (id: string, status: HealthStatus) => void;
  readonly #hint: (id: string) => void;
  /** The last state the primary sent per backend; may come before the watch (a large snapshot is applied here in turns). */
  readonly #known = new Map<string, { readonly url: string; readonly status: HealthStatus }>();
  /** URL watched per backend id. */
  readonly #watched = new Map<string, string>();

  constructor(sink: (id: string, status: HealthStatus) => void, hint: (id: string) => void) {
    this.#sink = sink;
    this.#hint = hint;
  }

  async start(): Promise<void> {}
  async close(): Promise<void> {}

  /** States from the primary, for backends known or not yet known here. */
  receive(states: readonly CheckedHealth[]): void {
    for (const [id, status, url] of states) {
      this.#known.set(id, { url, status });
      if (this.#watched.get(id) === url) this.#sink(id, status);
    }
  }

  /**
   * Forgets the states of backends not in the registry snapshot `backends`
   * (id and URL): those that came for a snapshot this worker skipped (a newer
   * one replaced it while it was being prepared) and were never watched. The
   * primary sends states only about its current backends, and each snapshot
   * after the states about the one before, so none of these will be watched.
   */
  retain(backends: readonly { readonly id: string; readonly url: string }[]): void {
    // unwatch() forgets the others, so there is something to forget only when states outnumber
    // watches (a pass over the whole snapshot is not paid for every change).
    if (this.#known.size <= this.#watched.size) return;
    const urls = new Map<string, string>();
    for (const b of backends) urls.set(b.id, b.url);
    for (const [id, k] of this.#known) if (urls.get(id) !== k.url) this.#known.delete(id);
  }

  /** States held (for tests: churn must leave none behind). */
  get knownCount(): number {
    return this.#known.size;
  }

  watch(target: HealthTarget): void {
    this.#watched.set(target.id, target.url);
    const k = this.#known.get(target.id);
    if (k !== undefined && k.url === target.url) this.#sink(target.id, k.status);
  }

  unwatch(id: string): void {
    const url = this.#watched.get(id);
    this.#watched.delete(id);
    // The state of the URL leaving goes with it. One already about the backend's next URL
    // (it came while a snapshot was being applied in turns) stays for the watch that follows.
    if (url !== undefined && this.#known.get(id)?.url === url) this.#known.delete(id);
  }

  checkSoon(id: string): void {
    this.#hint(id);
  }

  state(): undefined {
    return undefined;
  }
}
