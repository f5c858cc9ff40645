import type { Candidate, PickContext } from '../../../balancer/strategies/strategy.js';
import type { Scheduler } from '../../../balancer/resilience/scheduler.js';

/** A candidate whose weight and in-flight count tests may change. */
export interface TestCandidate extends Candidate {
  weight: number;
  inFlight: number;
}

export function candidates(weights: readonly number[], prefix = 'b'): TestCandidate[] {
  return weights.map((weight, i) => ({ id: `${prefix}${String(i).padStart(3, '0')}`, weight, inFlight: 0 }));
}

export function ctx(opts: { ip?: string; path?: string; headers?: Record<string, string> } = {}): PickContext {
  const headers = opts.headers ?? {};
  return { clientIp: opts.ip ?? '10.0.0.1', path: opts.path ?? '/', header: (name) => headers[name] };
}

export const EMPTY_CTX = ctx();

/** mulberry32: a small deterministic [0, 1) generator for injected randomness. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function countPicks(pick: () => Candidate | undefined, times: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < times; i++) {
    const c = pick();
    if (c !== undefined) counts.set(c.id, (counts.get(c.id) ?? 0) + 1);
  }
  return counts;
}

/** A hand-driven clock and timer queue. */
export class FakeScheduler implements Scheduler {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Number.POSITIVE_INFINITY;
      for (const [id, t] of this.#timers) if (t.at < nextAt || (t.at === nextAt && id < nextId)) [nextId, nextAt] = [id, t.at];
      if (nextId < 0 || nextAt > end) break;
      const t = this.#timers.get(nextId)!;
      this.#timers.delete(nextId);
      this.#now = Math.max(this.#now, t.at);
      t.fn();
    }
    this.#now = end;
  }
}
