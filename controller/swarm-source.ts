import type Dockerode from 'dockerode';
import type { Logger } from '../common/logger.js';
import type { ContainerFacts, ContainerSource, ContainerSourceListener } from './container-source.js';

/** The label `docker stack deploy` puts on every service of a stack. */
export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';

/** Task states past which a task never runs again: it is no backend, and not worth listing. */
const ENDED = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);

export interface SwarmSourceOptions {
  readonly docker: Dockerode;
  readonly labelPrefix: string;
  /** Only services of this stack (label com.docker.stack.namespace), when set. */
  readonly project?: string;
  /** Time between two listings of the tasks. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
  /** Time allowed for one list call. */
  readonly requestTimeoutMs?: number;
}

/** The fields of a Swarm service the source reads. */
export interface SwarmService {
  readonly ID: string;
  readonly Spec?: { readonly Name?: string; readonly Labels?: Readonly<Record<string, string>> };
}

/** The fields of a Swarm task the source reads. */
export interface SwarmTask {
  readonly ID: string;
  readonly ServiceID?: string;
  readonly Slot?: number;
  readonly NodeID?: string;
  readonly DesiredState?: string;
  readonly Status?: { readonly State?: string; readonly Timestamp?: string };
  readonly Spec?: { readonly ContainerSpec?: { readonly Labels?: Readonly<Record<string, string>> } };
  readonly NetworksAttachments?: readonly {
    readonly Network?: { readonly Spec?: { readonly Name?: string } };
    readonly Addresses?: readonly string[];
  }[];
}

/**
 * The controller's source on Docker Swarm, run on a manager: only
 * swarm-scoped calls (services and tasks), since container events are local
 * to one node and the engine emits no task events. It lists the labelled
 * services' tasks every `pollIntervalMs` and tells the controller when the
 * listing changed. A task is a backend while it runs; it is marked stopping
 * as soon as its desired state leaves running (scale-down, update,
 * removal), before its container is signalled, and it is gone when its
 * state ends.
 */
export class SwarmSource implements ContainerSource {
  readonly #opts: SwarmSourceOptions;
  readonly #log: Logger;
  #listener: ContainerSourceListener | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #last: string | undefined;
  #up = false;
  #everUp = false;
  #closed = false;

  constructor(opts: SwarmSourceOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
  }

  watch(listener: ContainerSourceListener): void {
    this.#listener = listener;
  }

  /** Polls in the background; an engine that is down (or not a manager) is retried, not fatal. */
  async start(): Promise<void> {
    this.#schedule(0);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#polling;
  }

  async list(): Promise<ContainerFacts[]> {
    const signal = AbortSignal.timeout(this.#opts.requestTimeoutMs ?? 5000);
    const label = [`${this.#opts.labelPrefix}.enable`];
    if (this.#opts.project !== undefined) label.push(`${STACK_NAMESPACE_LABEL}=${this.#opts.project}`);
    const services = (await this.#opts.docker.listServices({ filters: { label }, abortSignal: signal } as Dockerode.ServiceListOptions)) as SwarmService[];
    if (services.length === 0) return [];
    const tasks = (await this.#opts.docker.listTasks({ filters: { service: services.map((s) => s.ID) }, abortSignal: signal })) as SwarmTask[];
    return tasksToFacts(services, tasks);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.#poll().finally(() => {
        this.#polling = undefined;
        this.#schedule(this.#opts.pollIntervalMs);
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    let facts: ContainerFacts[];
    try {
      facts = await this.list();
    } catch (err) {
      if (this.#closed) return;
      if (this.#up || !this.#everUp) {
        const fields = { error: (err as Error).message, code: (err as { code?: string }).code, statusCode: (err as { statusCode?: number }).statusCode };
        this.#log.warn(fields, this.#everUp ? 'swarm task listing failed, retrying' : 'swarm tasks cannot be listed yet (is this a manager?), retrying');
      }
      if (this.#up) this.#listener?.disconnected(err as Error);
      this.#up = false;
      this.#everUp = true;
      return;
    }
    if (this.#closed) return;
    const print = JSON.stringify(facts);
    if (!this.#up) {
      this.#up = true;
      this.#everUp = true;
      this.#last = print;
      this.#log.info({ tasks: facts.length, pollIntervalMs: this.#opts.pollIntervalMs }, 'following swarm tasks');
      this.#listener?.connected();
      return;
    }
    if (print !== this.#last) {
      this.#last = print;
      this.#listener?.changed();
    }
  }
}

/**
 * Services and their tasks into the facts the controller reads, as a pure
 * function, in a stable order. Labels are the service's (`deploy.labels` in
 * a stack file) over the task's container labels; the name is the one
 * Docker gives the task's container (`<service>.<slot>.<task id>`), unique
 * even while an update runs an old and a new task in one slot.
 */
export function tasksToFacts(services: readonly SwarmService[], tasks: readonly SwarmTask[]): ContainerFacts[] {
  const byId = new Map(services.map((s) => [s.ID, s]));
  const out: ContainerFacts[] = [];
  for (const t of tasks) {
    const svc = t.ServiceID === undefined ? undefined : byId.get(t.ServiceID);
    const state = t.Status?.State ?? 'unknown';
    if (!svc || ENDED.has(state)) continue;
    const serviceName = svc.Spec?.Name ?? svc.ID;
    const serviceLabels = svc.Spec?.Labels ?? {};
    const networks: Record<string, { ip: string }> = {};
    for (const a of t.NetworksAttachments ?? []) {
      const name = a.Network?.Spec?.Name;
      if (name) networks[name] = { ip: (a.Addresses?.[0] ?? '').replace(/\/\d+$/, '') };
    }
    const project = serviceLabels[STACK_NAMESPACE_LABEL];
    const at = Date.parse(t.Status?.Timestamp ?? '');
    out.push({
      id: t.ID,
      name: `${serviceName}.${t.Slot ?? t.NodeID ?? 0}.${t.ID}`,
      state,
      // Swarm reports a task with a HEALTHCHECK as starting until the check passes, and replaces an unhealthy one.
      health: 'none',
      startedAt: Number.isFinite(at) ? at : 0,
      labels: { ...(t.Spec?.ContainerSpec?.Labels ?? {}), ...serviceLabels },
      networks,
      service: serviceName,
      stopping: t.DesiredState !== undefined && t.DesiredState !== 'running',
      ...(project === undefined ? {} : { project }),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
