import type { Balancer } from '../balancer.js';
import { RATE_WINDOW_SECONDS, HISTORY_SECONDS } from '../stats/snapshot.js';
import type { WorkerStats } from './messages.js';

/** What a worker reports when its primary collects: plain arrays, cheap to send. */
export function workerStats(lb: Balancer): WorkerStats {
  const rb = lb.router.retryBudget.status();
  const t = lb.totals();
  return {
    inFlight: t.inFlight,
    requestsTotal: t.requestsTotal,
    retriesTotal: t.retriesTotal,
    errors: [...t.errors],
    admission: lb.gate.admission?.status() ?? null,
    retryBudget: rb,
    ejected: t.ejected,
    waits: { connection: lb.waits.connection.data(), admissionQueue: lb.waits.admissionQueue.data(), eventLoop: lb.waits.eventLoop.data() },
    upstreams: lb.upstreams.all.map((u) => {
      const w = u.window.histogram(RATE_WINDOW_SECONDS);
      return {
        id: u.id,
        inFlight: u.inFlight,
        tunnels: u.tunnels,
        requests: u.requests,
        connectionsOpened: u.connectionsOpened,
        failures: u.failures,
        responses: [u.responses1xx2xx, u.responses3xx, u.responses4xx, u.responses5xx],
        lastError: u.lastError ?? null,
        latencyBuckets: Array.from(u.latencyBuckets),
        latencySumSeconds: u.latencySumSeconds,
        latencyCount: u.latencyCount,
        window: { count: w.count, errors: w.errors, hist: Array.from(w.hist) },
        series: u.window.series(HISTORY_SECONDS),
        facts: lb.router.facts(u),
      };
    }),
  };
}
