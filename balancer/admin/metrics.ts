import { Registry, type Metric } from 'prom-client';
import { collectProcessMetrics, ViewMetric, type Sample } from '../../common/view-metric.js';
import type { BalancerView, UpstreamView } from '../balancer-view.js';
import { LATENCY_BUCKETS_SECONDS } from '../upstream.js';
import { BackendRows, type BackendRow } from './backend-rows.js';

/** Extra per-backend facts the resilience parts expose (breaker, ejection, effective weight). */
export interface BackendMetricFacts {
  breaker?: 'closed' | 'open' | 'half-open';
  ejected?: boolean;
  effectiveWeight?: number;
}

export interface MetricsOptions {
  /** Adds process metrics (CPU, memory, event loop delay, GC). */
  readonly processMetrics?: boolean;
  readonly facts?: (u: UpstreamView) => BackendMetricFacts;
  /** More views from optional parts (admission queue, retry budget). */
  readonly extraViews?: readonly ViewMetric[];
}

const HEALTH_STATES = ['unknown', 'healthy', 'unhealthy'] as const;
/** Backends with their own series unless the settings say otherwise (--metrics-backend-limit). */
const DEFAULT_BACKEND_LIMIT = 100;
const REGISTRY_STATES = ['active', 'draining'] as const;
const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** One counter key and reader per latency bucket (the last is +Inf), made once. */
const LATENCY_BUCKET_KEYS = Array.from({ length: LATENCY_BUCKETS_SECONDS.length + 1 }, (_, i) => `latency-${i}`);
const LATENCY_BUCKET_READERS = LATENCY_BUCKET_KEYS.map(
  (_, i) =>
    (u: UpstreamView): number =>
      u.latencyBuckets[i]!,
);

/** Builds the balancer's Prometheus registry. docs/observability.md lists every metric. */
export function createBalancerMetrics(lb: BalancerView, opts: MetricsOptions = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ instance_id: lb.profile.instanceId });
  if (opts.processMetrics !== false) {
    collectProcessMetrics(registry, 'switchyard_process_');
  }
  const limit = lb.profile.metricsBackendLimit ?? DEFAULT_BACKEND_LIMIT;
  const ups = (): readonly UpstreamView[] => lb.upstreams.all;
  const backendRows = new BackendRows(limit);
  const rows = (): readonly BackendRow[] => backendRows.rows(ups());
  /** One sample per row: a backend's value, or the sum over the backends past the limit. */
  const perBackend = (f: (u: UpstreamView) => number, labels: Record<string, string> = {}): Sample[] =>
    rows().map((r) => ({ labels: { backend: r.backend, ...labels }, value: sum(r.members, f) }));
  /** The same for a counter: the `_other` row never goes down (BackendRows). */
  const counterPerBackend = (key: string, f: (u: UpstreamView) => number, labels: Record<string, string> = {}): Sample[] =>
    rows().map((r) => ({ labels: { backend: r.backend, ...labels }, value: backendRows.counter(r, key, f) }));
  const byState = <S extends string>(states: readonly S[], stateOf: (u: UpstreamView) => S): Sample[] =>
    states.flatMap((st) => perBackend((u) => (stateOf(u) === st ? 1 : 0), { state: st }));
  const views: ViewMetric[] = [
    new ViewMetric('switchyard_requests_total', 'Client requests received by the proxy.', 'counter', () => [{ labels: {}, value: lb.totals().requestsTotal }]),
    new ViewMetric('switchyard_in_flight_requests', 'Client requests being handled now.', 'gauge', () => [{ labels: {}, value: lb.totals().inFlight }]),
    new ViewMetric('switchyard_errors_total', 'Requests the proxy answered itself with an error from the catalogue, by code.', 'counter', () =>
      [...lb.totals().errors].map(([code, value]) => ({ labels: { code }, value })),
    ),
    new ViewMetric('switchyard_retries_total', 'Attempts made on another backend after a failed attempt.', 'counter', () => [
      { labels: {}, value: lb.totals().retriesTotal },
    ]),
    new ViewMetric('switchyard_backend_responses_total', 'Responses from each backend passed to clients, by status class.', 'counter', () => [
      ...counterPerBackend('2xx', (u) => u.responses1xx2xx, { code_class: '2xx' }),
      ...counterPerBackend('3xx', (u) => u.responses3xx, { code_class: '3xx' }),
      ...counterPerBackend('4xx', (u) => u.responses4xx, { code_class: '4xx' }),
      ...counterPerBackend('5xx', (u) => u.responses5xx, { code_class: '5xx' }),
    ]),
    new ViewMetric('switchyard_backend_attempts_total', 'Attempts sent to each backend (a retried request counts once per backend tried).', 'counter', () =>
      counterPerBackend('attempts', (u) => u.requests),
    ),
    new ViewMetric('switchyard_backend_connections_opened_total', 'Connections opened to each backend by the proxy (how fast its pool grows).', 'counter', () =>
      counterPerBackend('opened', (u) => u.connectionsOpened),
    ),
    new ViewMetric(
      'switchyard_upstream_connection_wait_seconds',
      "Time from an attempt's start until its request went out on a backend connection (raw and undici engines).",
      'histogram',
      () => lb.waits.connection.samples('switchyard_upstream_connection_wait_seconds'),
    ),
    new ViewMetric(
      'switchyard_admission_queue_wait_seconds',
      'Time requests waited in the admission queue, granted or timed out (only those that queued).',
      'histogram',
      () => lb.waits.admissionQueue.samples('switchyard_admission_queue_wait_seconds'),
    ),
    new ViewMetric(
      'switchyard_event_loop_delay_seconds',
      'Event-loop delay: how late each run of a 10 ms interval timer came (summed over workers).',
      'histogram',
      () => lb.waits.eventLoop.samples('switchyard_event_loop_delay_seconds'),
    ),
    new ViewMetric('switchyard_backend_failures_total', 'Attempts that failed at the transport level (refused, reset, timeout).', 'counter', () =>
      counterPerBackend('failures', (u) => u.failures),
    ),
    new ViewMetric('switchyard_backend_in_flight', 'Requests open to each backend now.', 'gauge', () => perBackend((u) => u.inFlight)),
    new ViewMetric('switchyard_backend_tunnels', 'WebSocket (upgrade) tunnels open to each backend.', 'gauge', () => perBackend((u) => u.tunnels)),
    new ViewMetric('switchyard_backend_health', 'Health of each backend: 1 for its current state.', 'gauge', () => byState(HEALTH_STATES, (u) => u.health)),
    new ViewMetric('switchyard_backend_registry_state', 'Registry state of each backend: 1 for its current state.', 'gauge', () =>
      byState(REGISTRY_STATES, (u) => u.spec.state),
    ),
    new ViewMetric('switchyard_backend_routable', '1 when the backend may receive new requests.', 'gauge', () => perBackend((u) => (u.routable ? 1 : 0))),
    new ViewMetric('switchyard_backend_breaker_state', 'Circuit breaker of each backend: 1 for its current state.', 'gauge', () =>
      byState(BREAKER_STATES, (u) => opts.facts?.(u).breaker ?? 'closed'),
    ),
    new ViewMetric('switchyard_backend_ejected', '1 while passive outlier detection has ejected the backend.', 'gauge', () =>
      perBackend((u) => (opts.facts?.(u).ejected ? 1 : 0)),
    ),
    new ViewMetric('switchyard_backend_weight', 'Weight of each backend in the registry.', 'gauge', () => perBackend((u) => u.spec.weight)),
    new ViewMetric('switchyard_backend_effective_weight', 'Weight the strategy uses now (after slow start and dynamic weights).', 'gauge', () =>
      perBackend((u) => opts.facts?.(u).effectiveWeight ?? u.weight),
    ),
    new ViewMetric(
      'switchyard_backend_response_seconds',
      'Time from sending a request to a backend to the end of its response (or failure).',
      'histogram',
      () =>
        rows().flatMap((row) => {
          const backend = row.backend;
          const out: Sample[] = [];
          let cumulative = 0;
          for (let i = 0; i <= LATENCY_BUCKETS_SECONDS.length; i++) {
            cumulative += backendRows.counter(row, LATENCY_BUCKET_KEYS[i]!, LATENCY_BUCKET_READERS[i]!);
            out.push({
              metricName: 'switchyard_backend_response_seconds_bucket',
              labels: { backend, le: LATENCY_BUCKETS_SECONDS[i] ?? '+Inf' },
              value: cumulative,
            });
          }
          out.push({
            metricName: 'switchyard_backend_response_seconds_sum',
            labels: { backend },
            value: backendRows.counter(row, 'latency-sum', (u) => u.latencySumSeconds),
          });
          out.push({
            metricName: 'switchyard_backend_response_seconds_count',
            labels: { backend },
            value: backendRows.counter(row, 'latency-count', (u) => u.latencyCount),
          });
          return out;
        }),
    ),
    new ViewMetric('switchyard_backends', 'Backends known to this balancer, and how many are routable.', 'gauge', () => [
      { labels: { kind: 'registered' }, value: ups().length },
      { labels: { kind: 'routable' }, value: lb.upstreams.routable.length },
    ]),
    new ViewMetric('switchyard_registry_version', 'Registry version this balancer routes on.', 'gauge', () => [{ labels: {}, value: lb.upstreams.version }]),
    new ViewMetric('switchyard_registry_connected', '1 while the registry store is reachable.', 'gauge', () => [
      { labels: {}, value: lb.registry.status().connected ? 1 : 0 },
    ]),
    new ViewMetric('switchyard_registry_propagation_seconds', 'Delay between the latest registry change and this balancer loading it.', 'gauge', () => [
      { labels: {}, value: (lb.registry.status().lastPropagationMs ?? 0) / 1000 },
    ]),
    new ViewMetric('switchyard_registry_skipped_entries', 'Malformed registry entries skipped in the last snapshot.', 'gauge', () => [
      { labels: {}, value: lb.registry.status().skippedEntries },
    ]),
    new ViewMetric('switchyard_retry_budget_rejections_total', 'Retries refused because the retry budget was spent.', 'counter', () => [
      { labels: {}, value: lb.totals().retryRejections },
    ]),
    new ViewMetric('switchyard_admission_in_flight', 'Requests holding an admission slot.', 'gauge', () => [
      { labels: {}, value: lb.totals().admission?.inFlight ?? lb.totals().inFlight },
    ]),
    new ViewMetric('switchyard_admission_limit', 'Cap on requests in flight (moves in adaptive mode; 0 when there is no cap).', 'gauge', () => [
      { labels: {}, value: lb.totals().admission?.limit ?? 0 },
    ]),
    new ViewMetric('switchyard_queue_depth', 'Requests waiting in the admission queue.', 'gauge', () => [
      { labels: {}, value: lb.totals().admission?.queued ?? 0 },
    ]),
    new ViewMetric('switchyard_admission_rejections_total', 'Requests refused by admission control: queue full, or waited too long.', 'counter', () => {
      const a = lb.totals().admission;
      return [
        { labels: { reason: 'queue_full' }, value: a?.rejected ?? 0 },
        { labels: { reason: 'queue_timeout' }, value: a?.timedOut ?? 0 },
      ];
    }),
    new ViewMetric('switchyard_backends_ejected', 'Backends currently ejected by outlier detection.', 'gauge', () => [
      { labels: {}, value: lb.totals().ejected },
    ]),
    new ViewMetric('switchyard_strategy_info', 'The load-balancing strategy in use (value 1).', 'gauge', () => [
      { labels: { strategy: lb.strategy.name }, value: 1 },
    ]),
    ...(opts.extraViews ?? []),
  ];
  for (const v of views) registry.registerMetric(v as unknown as Metric);
  return registry;
}

function sum(members: readonly UpstreamView[], f: (u: UpstreamView) => number): number {
  let total = 0;
  for (const u of members) total += f(u);
  return total;
}
