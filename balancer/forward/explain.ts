import type { PickContext } from '../strategies/strategy.js';
import type { Upstream } from '../upstream.js';

/** X-LB-Decision (--explain, --explain-header) as the engines ask for it. */
export interface Explainer {
  /** True when this request should carry X-LB-Decision: --explain is on, or it sent the --explain-header. */
  wants(ctx: PickContext): boolean;
  /** The X-LB-Decision value for a pick just made (`exclude`: the backends already tried, with why in `tried`). */
  explain(
    ctx: PickContext,
    picked: Upstream | undefined,
    attempt: number,
    exclude: readonly Upstream[] | undefined,
    tried: readonly { id: string; code: string }[],
  ): string;
}

/**
 * Why a backend was not a candidate, for the X-LB-Decision header. Only
 * called when explanations are on, so it may allocate.
 */
export function skipReason(u: Upstream, blocked?: (u: Upstream) => string | undefined): string | undefined {
  if (u.spec.state === 'draining') return 'draining';
  if (u.health === 'unhealthy') return 'unhealthy';
  if (u.health === 'unknown') return 'not-yet-checked';
  if (u.spec.weight === 0) return 'weight-0';
  return blocked?.(u);
}

/**
 * `strategy=round-robin; picked=b2; attempt=1; candidates=b1,b2,b3; skipped=b4:unhealthy,b5:draining; tried=b1:SWY_UPSTREAM_REFUSED`
 */
export function describeDecision(
  strategy: string,
  all: readonly Upstream[],
  candidates: readonly Upstream[],
  picked: Upstream | undefined,
  attempt: number,
  tried: readonly { id: string; code: string }[],
  blocked?: (u: Upstream) => string | undefined,
  passedOver?: readonly { readonly id: string; readonly reason: string }[],
): string {
  const skipped: string[] = [];
  for (const u of all) {
    if (candidates.includes(u)) continue;
    const why = skipReason(u, blocked);
    if (why) skipped.push(`${u.id}:${why}`);
  }
  // Candidates the strategy itself passed over (consistent-hash: over its bounded load).
  if (passedOver !== undefined) for (const p of passedOver) skipped.push(`${p.id}:${p.reason}`);
  const parts = [
    `strategy=${strategy}`,
    `picked=${picked ? picked.id : 'none'}`,
    `attempt=${attempt}`,
    `candidates=${candidates.map((u) => u.id).join(',') || 'none'}`,
  ];
  if (skipped.length) parts.push(`skipped=${skipped.join(',')}`);
  if (tried.length) parts.push(`tried=${tried.map((t) => `${t.id}:${t.code}`).join(',')}`);
  return parts.join('; ');
}
