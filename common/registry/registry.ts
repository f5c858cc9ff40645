import type { BackendSpec, BackendState } from '../backend.js';
import type { Lifecycle } from '../lifecycle.js';

/** A full, consistent view of the registry at one version. */
export interface RegistrySnapshot {
  /** Monotonic change counter; 0 before anything was loaded. */
  readonly version: number;
  readonly backends: readonly BackendSpec[];
  /** When the writer made the newest change (ms since epoch), if known. */
  readonly changedAt?: number;
}

export type RegistryListener = (snapshot: RegistrySnapshot) => void;

export interface RegistryStatus {
  readonly kind: 'memory' | 'redis';
  /** False while the store cannot be reached; the last snapshot stays in use. */
  readonly connected: boolean;
  /** True once a snapshot has been loaded since start. */
  readonly synced: boolean;
  readonly version: number;
  readonly lastSyncAt?: number;
  /** Delay between the writer's change and this reader's load of it, for the latest change. */
  readonly lastPropagationMs?: number;
  readonly skippedEntries: number;
}

/**
 * The backend registry as every program sees it: a snapshot to read, a
 * subscription for new snapshots, and idempotent writes. Listeners receive
 * only snapshots that differ from the previous one.
 */
export interface Registry extends Lifecycle {
  current(): RegistrySnapshot;
  subscribe(listener: RegistryListener): () => void;
  upsert(spec: BackendSpec): Promise<void>;
  /** Returns false when the id was not registered. */
  remove(id: string): Promise<boolean>;
  /** Returns false when the id was not registered. */
  setState(id: string, state: BackendState): Promise<boolean>;
  status(): RegistryStatus;
}

export const EMPTY_SNAPSHOT: RegistrySnapshot = Object.freeze({ version: 0, backends: Object.freeze([]) });

export class RegistryUnavailableError extends Error {
  readonly code = 'SWY_REGISTRY_UNAVAILABLE';
  constructor(cause: unknown) {
    super('the registry store cannot be reached', { cause });
    this.name = 'RegistryUnavailableError';
  }
}
