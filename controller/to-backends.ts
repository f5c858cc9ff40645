import { isBackendId, MAX_WEIGHT, parseBackendSpec, type BackendSpec } from '../common/backend.js';
import type { ContainerFacts } from './container-source.js';

/** Compose's own labels, read to name the project and service of a backend. */
export const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';
export const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';

/** Registry labels the controller writes on its entries; `source` and `network` mark them as its own. */
export const OWNER_SOURCE = 'docker';

export interface ToBackendsOptions {
  /** The Docker network the balancer reaches backends on. */
  readonly network: string;
  /** `switchyard` reads switchyard.enable, switchyard.port, switchyard.weight, switchyard.id. */
  readonly labelPrefix: string;
  /** Only containers of this Compose project, when set. */
  readonly project?: string;
  /**
   * Containers whose stop signal was seen, with the time of the signal. A
   * container started before that time is still stopping: its backend is
   * desired as `draining`. One started after it was restarted since.
   */
  readonly stopping?: ReadonlyMap<string, number>;
}

export interface SkippedContainer {
  readonly containerId: string;
  readonly name: string;
  readonly reason: string;
  /** True when the labels or the network are wrong: the operator must fix something. */
  readonly misconfigured: boolean;
}

export interface DesiredBackends {
  /** Sorted by id. */
  readonly backends: readonly BackendSpec[];
  readonly skipped: readonly SkippedContainer[];
}

/** The scope an entry must carry for this controller to own it. */
export interface OwnerScope {
  readonly network: string;
  readonly project?: string;
}

/** True when the controller with this scope wrote `spec` and may change or remove it. */
export function isOwned(spec: BackendSpec, scope: OwnerScope): boolean {
  const l = spec.labels;
  if (l.source !== OWNER_SOURCE || l.network !== scope.network) return false;
  return scope.project === undefined || l.project === scope.project;
}

/**
 * Containers into the backends the registry should hold, as a pure function
 * (Traefik's builder: a full snapshot from a full listing). A container is a
 * backend when it carries `<prefix>.enable=true`, runs (not paused), is
 * healthy if it has a HEALTHCHECK, is attached to the chosen network with an
 * address there, and its labels are valid. Wrong labels or a wrong network
 * are reported as misconfigured, never guessed around.
 */
export function toBackends(containers: readonly ContainerFacts[], opts: ToBackendsOptions): DesiredBackends {
  const p = opts.labelPrefix;
  const byId = new Map<string, { spec: BackendSpec; container: ContainerFacts }>();
  const skipped: SkippedContainer[] = [];
  const sorted = [...containers].sort((a, b) => cmp(a.name, b.name) || cmp(a.id, b.id));

  for (const c of sorted) {
    const skip = (reason: string, misconfigured = false): void => {
      skipped.push({ containerId: c.id, name: c.name, reason, misconfigured });
    };
    const enable = c.labels[`${p}.enable`];
    if (enable === undefined || enable === 'false') continue;
    const project = c.project ?? c.labels[COMPOSE_PROJECT_LABEL];
    if (opts.project !== undefined && project !== opts.project) continue;
    if (enable !== 'true') {
      skip(`label ${p}.enable is '${enable}'; it must be true or false`, true);
      continue;
    }
    if (c.state !== 'running') {
      skip(c.state === 'paused' ? 'paused' : `not running (${c.state})`);
      continue;
    }

    const portText = c.labels[`${p}.port`];
    if (portText === undefined) {
      skip(`label ${p}.port is missing: set it to the port the backend listens on inside the container`, true);
      continue;
    }
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
      skip(`label ${p}.port is '${portText}'; it must be a port number from 1 to 65535`, true);
      continue;
    }
    const weightText = c.labels[`${p}.weight`];
    if (weightText !== undefined && (!/^\d+$/.test(weightText) || Number(weightText) > MAX_WEIGHT)) {
      skip(`label ${p}.weight is '${weightText}'; it must be an integer from 0 to ${MAX_WEIGHT}`, true);
      continue;
    }
    const id = c.labels[`${p}.id`] ?? c.name;
    if (!isBackendId(id)) {
      skip(`backend id '${id}' (label ${p}.id, or the container name) must be letters, digits and . _ : - (at most 128)`, true);
      continue;
    }
    const net = c.networks[opts.network];
    if (net === undefined) {
      const on = Object.keys(c.networks).sort();
      skip(`not attached to network '${opts.network}' (attached to: ${on.length ? on.join(', ') : 'none'}); attach it or label it ${p}.enable=false`, true);
      continue;
    }

    if (c.health === 'starting') {
      skip('health check starting');
      continue;
    }
    if (c.health === 'unhealthy') {
      skip('unhealthy');
      continue;
    }
    if (!net.ip) {
      skip(`no IPv4 address on network '${opts.network}' yet`);
      continue;
    }

    const stopAt = opts.stopping?.get(c.id);
    const draining = c.stopping === true || (stopAt !== undefined && c.startedAt <= stopAt);
    const labels: Record<string, string> = { source: OWNER_SOURCE, network: opts.network, container: c.id, name: c.name };
    const service = c.service ?? c.labels[COMPOSE_SERVICE_LABEL];
    if (project !== undefined) labels.project = project;
    if (service !== undefined) labels.service = service;
    const parsed = parseBackendSpec({
      id,
      url: `http://${hostForUrl(net.ip)}:${port}`,
      weight: weightText ?? undefined,
      state: draining ? 'draining' : 'active',
      labels,
    });
    if (!parsed.ok) {
      skip(parsed.reason, true);
      continue;
    }
    const taken = byId.get(id);
    if (taken) {
      skip(`backend id '${id}' is already used by container ${taken.container.name}; give each container its own ${p}.id`, true);
      continue;
    }
    byId.set(id, { spec: parsed.value, container: c });
  }

  const backends = [...byId.values()].map((e) => e.spec).sort((a, b) => cmp(a.id, b.id));
  return { backends, skipped };
}

function hostForUrl(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
