import { Registry, type Metric } from 'prom-client';
import type { Registry as BackendRegistry } from '../common/registry/registry.js';
import { collectProcessMetrics, ViewMetric } from '../common/view-metric.js';
import type { ControllerCounters, ControllerStatus } from './controller.js';
import type { EventKind } from './event-kinds.js';

/** What the controller's metrics read at scrape time. */
export interface ControllerMetricsView {
  readonly instanceId: string;
  counters(): ControllerCounters;
  status(): ControllerStatus;
  readonly registry: Pick<BackendRegistry, 'status' | 'current'>;
  /** The autoscaler's counters, when it runs. */
  readonly autoscale?: (() => { readonly changes: ReadonlyMap<'up' | 'down', number>; readonly failures: number }) | undefined;
  /** Processes metrics (CPU, memory, event loop, GC); default on. */
  readonly processMetrics?: boolean;
}

const EVENT_KINDS: readonly EventKind[] = ['register', 'drain', 'deregister', 'ignore'];
const WRITE_KINDS = ['upsert', 'set-state', 'remove'] as const;

/** The controller's Prometheus registry. docs/observability.md lists every metric. */
export function createControllerMetrics(view: ControllerMetricsView): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ instance_id: view.instanceId });
  if (view.processMetrics !== false) {
    collectProcessMetrics(registry, 'switchyard_controller_process_');
  }
  const one = (value: number): { labels: Record<string, never>; value: number }[] => [{ labels: {}, value }];
  const views = [
    new ViewMetric('switchyard_controller_events_total', 'Docker container events seen, by what they mean for the registry.', 'counter', () => {
      const events = view.counters().events;
      return EVENT_KINDS.map((kind) => ({ labels: { kind }, value: events.get(kind) ?? 0 }));
    }),
    new ViewMetric('switchyard_controller_reconciles_total', 'Full reconciles completed (listing, diff, writes).', 'counter', () =>
      one(view.counters().reconciles),
    ),
    new ViewMetric('switchyard_controller_reconcile_failures_total', 'Reconciles that failed (Docker or Redis unreachable) and were retried.', 'counter', () =>
      one(view.counters().reconcileFailures),
    ),
    new ViewMetric('switchyard_controller_stale_plans_total', 'Reconcile plans dropped because an event arrived while they were applied.', 'counter', () =>
      one(view.counters().stalePlans),
    ),
    new ViewMetric('switchyard_controller_registry_writes_total', 'Writes to the registry, by kind.', 'counter', () => {
      const writes = view.counters().writes;
      return WRITE_KINDS.map((kind) => ({ labels: { kind }, value: writes.get(kind) ?? 0 }));
    }),
    new ViewMetric('switchyard_controller_leader', '1 while this controller holds the writer lease.', 'gauge', () => one(view.status().leader ? 1 : 0)),
    new ViewMetric('switchyard_controller_desired_backends', 'Backends the running, labelled containers call for.', 'gauge', () => one(view.status().desired)),
    new ViewMetric('switchyard_controller_stopping_containers', 'Containers whose stop signal was seen and that still run.', 'gauge', () =>
      one(view.status().stopping),
    ),
    new ViewMetric(
      'switchyard_controller_last_reconcile_timestamp_seconds',
      'When the last reconcile completed (Unix time; 0 before the first).',
      'gauge',
      () => one((view.status().lastReconcileAt ?? 0) / 1000),
    ),
    new ViewMetric('switchyard_controller_docker_connected', '1 while the Docker event stream is connected.', 'gauge', () =>
      one(view.counters().dockerConnected ? 1 : 0),
    ),
    new ViewMetric('switchyard_controller_docker_reconnects_total', 'Times the Docker event stream was connected again after a loss.', 'counter', () =>
      one(view.counters().dockerReconnects),
    ),
    new ViewMetric('switchyard_controller_registry_connected', '1 while Redis is reachable.', 'gauge', () => one(view.registry.status().connected ? 1 : 0)),
    new ViewMetric('switchyard_controller_registry_version', 'Registry version the controller last loaded.', 'gauge', () =>
      one(view.registry.current().version),
    ),
    new ViewMetric('switchyard_controller_registered_backends', 'Backends in the registry as the controller last loaded it.', 'gauge', () =>
      one(view.registry.current().backends.length),
    ),
  ];
  const autoscale = view.autoscale;
  if (autoscale) {
    views.push(
      new ViewMetric('switchyard_controller_autoscale_changes_total', 'Replica count changes the autoscaler made, by direction.', 'counter', () => {
        const changes = autoscale().changes;
        return (['up', 'down'] as const).map((direction) => ({ labels: { direction }, value: changes.get(direction) ?? 0 }));
      }),
      new ViewMetric(
        'switchyard_controller_autoscale_failures_total',
        'Autoscaler rounds that failed (Docker or Redis unreachable, an update refused).',
        'counter',
        () => one(autoscale().failures),
      ),
    );
  }
  for (const v of views) registry.registerMetric(v as unknown as Metric);
  return registry;
}
