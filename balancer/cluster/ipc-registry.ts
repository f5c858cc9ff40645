import {
  EMPTY_SNAPSHOT,
  RegistryUnavailableError,
  type Registry,
  type RegistryListener,
  type RegistrySnapshot,
  type RegistryStatus,
} from '../../common/registry/registry.js';

/**
 * A worker's registry: the snapshots its primary forwards. Read-only: the
 * admin API, which writes, runs in the primary.
 */
export class IpcRegistry implements Registry {
  readonly #listeners = new Set<RegistryListener>();
  #snapshot: RegistrySnapshot = EMPTY_SNAPSHOT;
  #status: RegistryStatus = { kind: 'memory', connected: true, synced: false, version: 0, skippedEntries: 0 };

  async start(): Promise<void> {}
  async close(): Promise<void> {
    this.#listeners.clear();
  }

  /** The primary sent a new snapshot. */
  receive(snapshot: RegistrySnapshot, status: RegistryStatus): void {
    this.#status = status;
    if (snapshot.version === this.#snapshot.version && this.#snapshot !== EMPTY_SNAPSHOT) return;
    this.#snapshot = snapshot;
    for (const l of this.#listeners) l(snapshot);
  }

  current(): RegistrySnapshot {
    return this.#snapshot;
  }

  subscribe(listener: RegistryListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): RegistryStatus {
    return this.#status;
  }

  upsert(): Promise<void> {
    return Promise.reject(new RegistryUnavailableError(new Error('workers do not write the registry')));
  }

  remove(): Promise<boolean> {
    return Promise.reject(new RegistryUnavailableError(new Error('workers do not write the registry')));
  }

  setState(): Promise<boolean> {
    return Promise.reject(new RegistryUnavailableError(new Error('workers do not write the registry')));
  }
}
