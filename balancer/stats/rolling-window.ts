import { BIN_COUNT, binOf, quantileMs } from './latency-histogram.js';

/**
 * Per-second counters for one backend over the last `seconds` seconds:
 * responses, errors and a latency histogram per second. Recording touches
 * only the current second's slot; old slots are cleared lazily as time moves.
 */
export class RollingWindow {
  readonly seconds: number;
  /** Made on the first record: a backend that never served (most of 10,000) holds no arrays. */
  #slots: Slots | undefined;
  readonly #now: () => number;

  constructor(seconds: number, now: () => number = Date.now) {
    this.seconds = seconds;
    this.#now = now;
  }

  record(micros: number, error: boolean): void {
    const second = Math.floor(this.#now() / 1000);
    const slot = second % this.seconds;
    const s = (this.#slots ??= makeSlots(this.seconds));
    if (s.second[slot] !== second) clearSlot(s, slot, second);
    s.count[slot]!++;
    if (error) s.errors[slot]!++;
    s.latency[slot * BIN_COUNT + binOf(micros)]!++;
  }

  /**
   * Totals over the last `span` complete seconds (the current, partial second
   * excluded so rates do not dip at each second's start).
   */
  summary(span: number): WindowSummary {
    return summarize(this.histogram(span), Math.min(span, this.seconds - 1));
  }

  /** Responses, errors and latency counts over the last `span` complete seconds. */
  histogram(span: number): WindowHistogram {
    const nowSecond = Math.floor(this.#now() / 1000);
    const n = Math.min(span, this.seconds - 1);
    const hist = new Uint32Array(BIN_COUNT);
    const slots = this.#slots;
    let count = 0;
    let errors = 0;
    if (!slots) return { count, errors, hist };
    for (let s = nowSecond - n; s < nowSecond; s++) {
      const slot = ((s % this.seconds) + this.seconds) % this.seconds;
      if (slots.second[slot] !== s) continue;
      count += slots.count[slot]!;
      errors += slots.errors[slot]!;
      const base = slot * BIN_COUNT;
      for (let i = 0; i < BIN_COUNT; i++) hist[i]! += slots.latency[base + i]!;
    }
    return { count, errors, hist };
  }

  /** Responses in each of the last `span` complete seconds, oldest first. */
  series(span: number): number[] {
    const nowSecond = Math.floor(this.#now() / 1000);
    const out: number[] = [];
    for (let s = nowSecond - Math.min(span, this.seconds - 1); s < nowSecond; s++) {
      const slot = ((s % this.seconds) + this.seconds) % this.seconds;
      out.push(this.#slots?.second[slot] === s ? this.#slots.count[slot]! : 0);
    }
    return out;
  }
}

interface Slots {
  readonly count: Uint32Array;
  readonly errors: Uint32Array;
  readonly latency: Uint32Array;
  /** The second (since epoch) each slot holds. */
  readonly second: Float64Array;
}

function makeSlots(seconds: number): Slots {
  return {
    count: new Uint32Array(seconds),
    errors: new Uint32Array(seconds),
    latency: new Uint32Array(seconds * BIN_COUNT),
    second: new Float64Array(seconds).fill(-1),
  };
}

function clearSlot(s: Slots, slot: number, second: number): void {
  s.second[slot] = second;
  s.count[slot] = 0;
  s.errors[slot] = 0;
  s.latency.fill(0, slot * BIN_COUNT, (slot + 1) * BIN_COUNT);
}

export interface WindowHistogram {
  readonly count: number;
  readonly errors: number;
  readonly hist: ArrayLike<number>;
}

/** Rates and quantiles of a window of `seconds` seconds. */
export function summarize(h: WindowHistogram, seconds: number): WindowSummary {
  return {
    count: h.count,
    errors: h.errors,
    perSecond: h.count / seconds,
    errorRate: h.count ? h.errors / h.count : 0,
    p50Ms: quantileMs(h.hist, 0.5),
    p90Ms: quantileMs(h.hist, 0.9),
    p99Ms: quantileMs(h.hist, 0.99),
  };
}

export interface WindowSummary {
  readonly count: number;
  readonly errors: number;
  readonly perSecond: number;
  readonly errorRate: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
}
