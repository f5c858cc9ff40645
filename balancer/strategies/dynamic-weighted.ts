import { WeightFactors } from './weight-factors.js';
import type { Candidate, PickContext, Strategy } from './strategy.js';
import { WeightedRoundRobin } from './weighted-round-robin.js';

/**
 * Smooth weighted round robin over effective weights = base weight x the
 * factor WeightFactors (weight-factors.ts) computes from latency and failures. The proxy feeds
 * it through the optional Strategy hooks: `observe()` after every attempt,
 * `refresh()` on a timer. Weight changes at each refresh are absorbed by the
 * scheduler without a burst.
 */
export class DynamicWeighted<C extends Candidate = Candidate> implements Strategy<C> {
  readonly name = 'dynamic-weighted';
  readonly weights: WeightFactors;
  readonly #wrr: WeightedRoundRobin<C>;

  constructor(weights: WeightFactors = new WeightFactors()) {
    this.weights = weights;
    this.#wrr = new WeightedRoundRobin<C>({ name: this.name, weightOf: (c) => weights.weightOf(c.id, c.weight) });
  }

  pick(candidates: readonly C[], ctx: PickContext, exclude?: readonly C[]): C | undefined {
    return this.#wrr.pick(candidates, ctx, exclude);
  }

  observe(id: string, latencyMs: number, ok: boolean, now: number): void {
    this.weights.record(id, latencyMs, ok, now);
  }

  refresh(candidates: readonly C[], now: number): void {
    this.weights.recompute(candidates, now);
  }

  weightOf(c: C): number {
    return this.weights.weightOf(c.id, c.weight);
  }
}
