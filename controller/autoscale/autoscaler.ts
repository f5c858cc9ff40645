import type Dockerode from 'dockerode';
import type { Lifecycle } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { ScaledEvent } from '../../common/registry/redis-events.js';
import type { BackendLoad } from '../../common/registry/redis-load-board.js';
import type { Registry } from '../../common/registry/registry.js';
import type { WriterLease } from '../lease.js';
import { STACK_NAMESPACE_LABEL } from '../swarm-source.js';
import { decide, policyFromLabels, type Recommendation, type ScalePolicy } from './scale-rule.js';

export interface AutoscalerSettings {
  readonly labelPrefix: string;
  /** Only services of this stack, when set. */
  readonly project?: string;
  readonly intervalMs: number;
  readonly defaults: Pick<ScalePolicy, 'tolerance' | 'upWindowMs' | 'downWindowMs'>;
}

export interface AutoscalerDeps {
  readonly settings: AutoscalerSettings;
  readonly docker: Dockerode;
  /** The load every balancer reported, summed per backend. */
  readonly loads: { read(): Promise<{ readonly byBackend: ReadonlyMap<string, BackendLoad>; readonly reporters: number }> };
  /** Which backends belong to which service (the entries the controller wrote). */
  readonly registry: Pick<Registry, 'current'>;
  readonly lease: Pick<WriterLease, 'held'>;
  /** Tells the balancers (their dashboards' event logs) of a change; may fail quietly. */
  readonly announce?: (e: ScaledEvent) => Promise<void>;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** One scaling decision that changed a service, as /metrics counts it and the log tells it. */
export interface ScaleEvent {
  readonly service: string;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
  readonly at: number;
}

interface SwarmServiceSpec {
  readonly ID: string;
  readonly Version?: { readonly Index?: number };
  readonly Spec?: {
    readonly Name?: string;
    readonly Labels?: Readonly<Record<string, string>>;
    readonly Mode?: { readonly Replicated?: { readonly Replicas?: number } };
  };
}

/**
 * Scales Swarm services by the load the balancers report, with the HPA's
 * rules (scale-rule.ts): every interval, while this controller holds the
 * writer lease, it reads each labelled service's policy and replica count,
 * adds up the load of the service's backends over every balancer, decides,
 * and changes the replica count alone (the one write the Docker API proxy
 * admits with --allow-replica-updates). Every change is logged with its
 * reason and counted; a service whose labels are wrong is reported once.
 */
export class Autoscaler implements Lifecycle {
  readonly #deps: AutoscalerDeps;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #history = new Map<string, readonly Recommendation[]>();
  readonly #reported = new Map<string, string>();
  readonly #changes = new Map<'up' | 'down', number>();
  #failures = 0;
  #last: ScaleEvent | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(deps: AutoscalerDeps) {
    this.#deps = deps;
    this.#log = deps.logger;
    this.#now = deps.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.#schedule();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  /** Scale changes made, by direction; failed ticks; the last change. */
  counters(): { readonly changes: ReadonlyMap<'up' | 'down', number>; readonly failures: number; readonly last?: ScaleEvent } {
    return { changes: this.#changes, failures: this.#failures, ...(this.#last ? { last: this.#last } : {}) };
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.tick()
        .catch((err: unknown) => {
          this.#failures++;
          this.#log.warn({ error: (err as Error).message }, 'autoscale tick failed');
        })
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
    }, this.#deps.settings.intervalMs);
    this.#timer.unref();
  }

  /** One round over every labelled service; exposed for tests that drive time. */
  async tick(): Promise<void> {
    if (!this.#deps.lease.held) return;
    const s = this.#deps.settings;
    const label = [`${s.labelPrefix}.enable`];
    if (s.project !== undefined) label.push(`${STACK_NAMESPACE_LABEL}=${s.project}`);
    const services = (await this.#deps.docker.listServices({ filters: { label } })) as unknown as SwarmServiceSpec[];
    const { byBackend, reporters } = await this.#deps.loads.read();
    const backends = this.#deps.registry.current().backends;
    const now = this.#now();
    const seen = new Set<string>();
    for (const svc of services) {
      const name = svc.Spec?.Name ?? svc.ID;
      const parsed = policyFromLabels(svc.Spec?.Labels ?? {}, s.labelPrefix, s.defaults);
      if (parsed === undefined) continue;
      seen.add(name);
      if (!parsed.ok) {
        this.#reportOnce(name, parsed.reason);
        continue;
      }
      const current = svc.Spec?.Mode?.Replicated?.Replicas;
      if (current === undefined) {
        this.#reportOnce(name, 'not a replicated service: only a replica count can be scaled');
        continue;
      }
      this.#reported.delete(name);
      let total = 0;
      for (const b of backends) {
        if (b.labels.service !== name) continue;
        const l = byBackend.get(b.id);
        if (l) total += parsed.policy.metric === 'inflight' ? l.inflight : l.rps;
      }
      // A service seen for the first time (or a controller just started or taking over) counts
      // its present size as a recommendation, so nothing is scaled down before a full down window.
      const d = decide(current, total, parsed.policy, this.#history.get(name) ?? [{ at: now, replicas: current }], now);
      this.#history.set(name, d.history);
      const fields = {
        service: name,
        replicas: current,
        load: round(total),
        perReplica: round(d.perReplica),
        recommended: d.recommended,
        balancers: reporters,
      };
      if (d.replicas === current) {
        this.#log.debug({ ...fields, reason: d.reason }, 'autoscale: no change');
        continue;
      }
      await this.#scale(svc, d.replicas);
      const dir = d.replicas > current ? 'up' : 'down';
      this.#changes.set(dir, (this.#changes.get(dir) ?? 0) + 1);
      this.#last = { service: name, from: current, to: d.replicas, reason: d.reason, at: now };
      void this.#deps.announce?.({ kind: 'scaled', ...this.#last }).catch(() => undefined);
      this.#log.info({ ...fields, to: d.replicas, reason: d.reason }, `autoscale: ${name} ${dir} from ${current} to ${d.replicas}`);
    }
    for (const name of this.#history.keys()) if (!seen.has(name)) this.#history.delete(name);
  }

  /** The listed spec with the replica count changed, at the version it was listed at: the engine refuses it if the service changed meanwhile. */
  async #scale(svc: SwarmServiceSpec, replicas: number): Promise<void> {
    const spec = structuredClone(svc.Spec) as { Mode: { Replicated: { Replicas: number } } };
    spec.Mode.Replicated.Replicas = replicas;
    await this.#deps.docker.getService(svc.ID).update({ _query: { version: svc.Version?.Index ?? 0 }, _body: spec } as never);
  }

  #reportOnce(service: string, reason: string): void {
    if (this.#reported.get(service) === reason) return;
    this.#reported.set(service, reason);
    this.#log.error({ service, reason }, 'autoscale: service labels cannot be used');
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
