import { describeDecision, type Explainer } from './forward/explain.js';
import type { Router } from './router.js';
import type { PickContext } from './strategies/strategy.js';
import type { UpstreamSet } from './upstream-set.js';
import type { Upstream } from './upstream.js';

/**
 * X-LB-Decision: on every response with --explain, or on those whose request
 * carries --explain-header. With neither, the request path asks one boolean
 * and builds nothing.
 */
export class DecisionExplainer implements Explainer {
  readonly #all: boolean;
  readonly #header: string | undefined;
  readonly #router: Router;
  readonly #upstreams: UpstreamSet;

  constructor(settings: { readonly explain?: boolean; readonly explainHeader?: string }, router: Router, upstreams: UpstreamSet) {
    this.#all = settings.explain ?? false;
    this.#header = settings.explainHeader?.toLowerCase();
    this.#router = router;
    this.#upstreams = upstreams;
  }

  wants(ctx: PickContext): boolean {
    if (this.#all) return true;
    return this.#header !== undefined && ctx.header(this.#header) !== undefined;
  }

  explain(
    ctx: PickContext,
    picked: Upstream | undefined,
    attempt: number,
    exclude: readonly Upstream[] | undefined,
    tried: readonly { id: string; code: string }[],
  ): string {
    const router = this.#router;
    const strategy = router.strategy;
    const all = router.candidates();
    const candidates = exclude && exclude.length ? all.filter((u) => !exclude.includes(u)) : all;
    const passed = picked === undefined ? undefined : strategy.passedOver?.(all, ctx, picked, exclude);
    return describeDecision(strategy.name, this.#upstreams.all, candidates, picked, attempt, tried, (u) => router.blockedReason(u), passed);
  }
}
