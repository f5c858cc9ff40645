import type { BackendSpec, BackendState } from '../backend.js';
import type { Lifecycle } from '../lifecycle.js';

/** A full, consistent view of the registry at one version. */
export interface RegistrySnapshot {
  /** Monotonic change counter; 0 before anything was loaded. */
  readonly version: number;
  readonly backends: readonly BackendSpec[];
  /** When the writer made the newest change (ms since epoch), if known. */
  readonly changedAt?: number;
  /**
   * Ids the store lists but whose entries could not be read as backends
   * (wrong type, malformed, too large), sorted by id. Nobody may assume such
   * an id is free: its key exists and was written by someone.
   */
  readonly skipped?: readonly SkippedRegistryEntry[];
}

export interface SkippedRegistryEntry {
  readonly id: string;
  readonly reason: string;
}

export type RegistryListener = (snapshot: RegistrySnapshot) => void;

export interface RegistryStatus {
  readonly kind: 'memory' | 'redis';
  /** False while the store cannot be reached; the last snapshot stays in use. */
  readonly connected: boolean;
  /**
   * True once a snapshot has been loaded and while the latest read of the
   * store succeeded; false before the first load and while the store answers
   * but its snapshot cannot be read (see syncError). An unreachable store does
   * not clear it: the last snapshot stays in use and `connected` says so.
   */
  readonly synced: boolean;
  /** Why the latest snapshot read failed while the store was reachable (no secrets); absent when it succeeded. */
  readonly syncError?: string;
  readonly version: number;
  readonly lastSyncAt?: number;
  /** Delay between the writer's change and this reader's load of it, for the latest change. */
  readonly lastPropagationMs?: number;
  /** Entries left out of the last snapshot loaded because they could not be read as backends. */
  readonly skippedEntries: number;
  /** The first of those (at most MAX_REPORTED_SKIPPED), with the reason each was skipped. */
  readonly skipped?: readonly SkippedRegistryEntry[];
}

/** How many skipped entries a status lists by id; the count covers them all. */
export const MAX_REPORTED_SKIPPED = 20;

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

/** A write refused because the id's key holds something this registry did not write (not a backend hash). */
export class RegistryConflictError extends Error {
  readonly code = 'SWY_REGISTRY_CONFLICT';
  readonly id: string;
  constructor(id: string) {
    super(`the registry key of backend '${id}' holds something other than a backend hash; delete it or pick another id`);
    this.name = 'RegistryConflictError';
    this.id = id;
  }
}
