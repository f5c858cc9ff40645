import { WaitHistogram } from './wait-histogram.js';

/** How often the loop is sampled. */
const RESOLUTION_MS = 10;

/**
 * The event loop's delay as a Prometheus histogram: a 10 ms interval timer
 * counts, each time it runs, how much later than 10 ms after its previous run
 * it came, straight into cumulative buckets, so /metrics can show how often a
 * turn of the loop made everything else wait 10, 50 or 500 ms. Each sample
 * covers the whole time since the one before, so no blocked turn falls between
 * two samples. (perf_hooks.monitorEventLoopDelay, read and reset once a
 * second, could lose one: its timer records a turn only once libuv's clock has
 * moved past it, which can come after a reset in the same turn.) About a
 * hundred short callbacks a second.
 */
export class EventLoopDelay {
  readonly histogram = new WaitHistogram();
  #timer: NodeJS.Timeout | undefined;
  #last = 0;

  start(): void {
    if (this.#timer) return;
    this.#last = performance.now();
    this.#timer = setInterval(() => this.#sample(), RESOLUTION_MS);
    this.#timer.unref();
  }

  #sample(): void {
    const now = performance.now();
    this.histogram.record(Math.max(0, now - this.#last - RESOLUTION_MS));
    this.#last = now;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
