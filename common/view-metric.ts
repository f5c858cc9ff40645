import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's process metrics under `prefix`, less the gauges it names
 * *_total (promtool: "non-counter metrics should not have _total suffix");
 * the same facts remain under their names without the suffix.
 */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(`${prefix}${name}`);
}

export type Labels = Record<string, string | number>;
export interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}
export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * A Prometheus metric whose samples are read from a program's own counters
 * when Prometheus scrapes, so hot paths only increment plain fields and never
 * touch prom-client. prom-client still owns the registry, the text format and
 * the process metrics.
 */
export class ViewMetric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum' as const;
  readonly #read: () => Sample[];

  constructor(name: string, help: string, type: MetricType, read: () => Sample[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#read = read;
  }

  async get(): Promise<{ name: string; help: string; type: MetricType; values: Sample[]; aggregator: 'sum' }> {
    return { name: this.name, help: this.help, type: this.type, values: this.#read(), aggregator: this.aggregator };
  }
}
