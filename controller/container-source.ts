import type { Lifecycle } from '../common/lifecycle.js';

/** Docker's health status of a container; `none` when its image and run options define no HEALTHCHECK. */
export type ContainerHealth = 'none' | 'starting' | 'healthy' | 'unhealthy';

/** What the controller needs to know of one container, read from the engine. */
export interface ContainerFacts {
  readonly id: string;
  /** Without Docker's leading slash, e.g. `switchyard_backend_3`. */
  readonly name: string;
  /** Docker's State.Status: created, running, paused, restarting, removing, exited or dead. */
  readonly state: string;
  readonly health: ContainerHealth;
  /** When the container was last started (ms since epoch, engine clock); 0 if never. */
  readonly startedAt: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Networks the container is attached to, by name, with its IPv4 address there ('' while none). */
  readonly networks: Readonly<Record<string, { readonly ip: string }>>;
  /** Its Compose project or Swarm stack, when the source knows it other than by Compose's labels. */
  readonly project?: string;
  /** Its Compose or Swarm service, likewise. */
  readonly service?: string;
  /** The orchestrator has asked it to stop (a Swarm task whose desired state left running): drain it. */
  readonly stopping?: boolean;
}

/** One container event from the engine, e.g. `start`, `kill` (with its signal), `health_status: healthy`. */
export interface ContainerEvent {
  readonly action: string;
  readonly containerId: string;
  readonly name: string;
  /** Signal number of a `kill` event. */
  readonly signal?: number;
  /** When the engine emitted it (ms since epoch, engine clock). */
  readonly at: number;
}

export interface ContainerSourceListener {
  event(e: ContainerEvent): void;
  /** The event stream is (re)connected: events may have been missed, so resync. */
  connected(): void;
  /** The event stream broke; it is being reconnected with backoff. */
  disconnected(err: Error | undefined): void;
  /** A source that polls saw its listing change: list again. */
  changed(): void;
}

/** The Docker side of the controller, as small as the controller needs it: containers (docker-source.ts) or Swarm tasks (swarm-source.ts). */
export interface ContainerSource extends Lifecycle {
  /** Every container that carries the enable label (running or not), with its facts. */
  list(): Promise<ContainerFacts[]>;
  /** Sets the one listener for events and connection changes; call before start(). */
  watch(listener: ContainerSourceListener): void;
}
