import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { WAIT_BUCKETS_SECONDS, WaitHistogram } from './wait-histogram.js';

/** How often libuv's timer samples the loop, and how often the samples are moved into the histogram. */
const RESOLUTION_MS = 10;
const TICK_MS = 1000;

/**
 * The event loop's delay as a Prometheus histogram. Node's
 * monitorEventLoopDelay samples it natively (a libuv timer every 10 ms, no
 * JavaScript per sample); once a second its samples move into cumulative
 * buckets and it starts again, so /metrics can show how often a turn of the
 * loop made everything else wait 10, 50 or 500 ms, not only a percentile of
 * the last moments. A sample is the time between two timer runs, so the
 * resolution is taken off: an idle loop reads as about 0.
 */
export class EventLoopDelay {
  readonly histogram = new WaitHistogram();
  readonly #monitor: ELDHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  #timer: NodeJS.Timeout | undefined;

  start(): void {
    if (this.#timer) return;
    this.#monitor.enable();
    // The tick runs after this turn's due timers (setImmediate): the monitor's own timer, late after a
    // blocked turn, records that turn when it fires, and a reset before it would drop the sample.
    this.#timer = setInterval(() => setImmediate(() => this.tick()), TICK_MS);
    this.#timer.unref();
  }

  /** Moves the samples taken since the last tick into the histogram (also called before a scrape). */
  tick(): void {
    const m = this.#monitor;
    const n = m.count;
    if (n === 0) return;
    this.histogram.add(bucketCounts(m, n), (Math.max(0, m.mean / 1e6 - RESOLUTION_MS) * n) / 1000);
    m.reset();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#monitor.disable();
  }
}

/**
 * Counts per bucket from the monitor's percentiles (HDR: each entry says what
 * share of samples lie at or under a value): for each bound, the largest share
 * whose value is within it, resolution added back.
 */
function bucketCounts(m: ELDHistogram, n: number): number[] {
  const shares = [...m.percentiles].sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  let below = 0;
  for (const bound of WAIT_BUCKETS_SECONDS) {
    const limitNs = (bound * 1000 + RESOLUTION_MS) * 1e6;
    let share = 0;
    for (const [pct, ns] of shares) if (ns <= limitNs) share = pct;
    // Rounding must never hide the worst sample: one 300 ms turn among 30 samples is 3 %.
    const atOrUnder = Math.min(Math.round((n * share) / 100), m.max > limitNs ? n - 1 : n);
    out.push(Math.max(0, atOrUnder - below));
    below = Math.max(below, atOrUnder);
  }
  out.push(Math.max(0, n - below));
  return out;
}
