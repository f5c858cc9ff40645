import type { BalancerView } from '../balancer-view.js';

/** What GET /info reads of a balancer, a single process or a cluster primary alike. */
export type InstanceFacts = Pick<BalancerView, 'profile' | 'strategy' | 'startedAt' | 'registry' | 'totals'> & {
  readonly shuttingDown: boolean;
};

/** The body of GET /info: one shape for both kinds of balancer, `extra` adding what only one of them has (tunnels, workers). */
export function instanceInfo(v: InstanceFacts, now: number, extra: Record<string, unknown>): Record<string, unknown> {
  const t = v.totals();
  return {
    instanceId: v.profile.instanceId,
    engine: v.profile.engine,
    listener: v.profile.listener,
    strategy: v.strategy.name,
    ...extra,
    startedAt: new Date(v.startedAt).toISOString(),
    uptimeSeconds: Math.round((now - v.startedAt) / 1000),
    inFlight: t.inFlight,
    shuttingDown: v.shuttingDown,
    admission: t.admission ?? null,
    registry: v.registry.status(),
  };
}
