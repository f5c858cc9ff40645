import { sameSpec, type BackendSpec, type BackendState } from '../backend.js';
import type { Registry, RegistryListener, RegistrySnapshot, RegistryStatus } from './registry.js';

/**
 * The embedded registry: one process, no store. The default when no Redis is
 * configured; static backends from --backends are written into it at start.
 */
export class MemoryRegistry implements Registry {
  readonly #backends = new Map<string, BackendSpec>();
  readonly #listeners = new Set<RegistryListener>();
  readonly #now: () => number;
  #snapshot: RegistrySnapshot;

  constructor(initial: readonly BackendSpec[] = [], now: () => number = Date.now) {
    this.#now = now;
    for (const b of initial) this.#backends.set(b.id, b);
    this.#snapshot = { version: initial.length ? 1 : 0, backends: Object.freeze([...initial]), changedAt: now() };
  }

  async start(): Promise<void> {}
  async close(): Promise<void> {
    this.#listeners.clear();
  }

  current(): RegistrySnapshot {
    return this.#snapshot;
  }

  subscribe(listener: RegistryListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async upsert(spec: BackendSpec): Promise<void> {
    const prev = this.#backends.get(spec.id);
    if (prev && sameSpec(prev, spec)) return;
    this.#backends.set(spec.id, spec);
    this.#publish();
  }

  async remove(id: string): Promise<boolean> {
    if (!this.#backends.delete(id)) return false;
    this.#publish();
    return true;
  }

  async setState(id: string, state: BackendState): Promise<boolean> {
    const prev = this.#backends.get(id);
    if (!prev) return false;
    if (prev.state !== state) {
      this.#backends.set(id, Object.freeze({ ...prev, state }));
      this.#publish();
    }
    return true;
  }

  status(): RegistryStatus {
    return {
      kind: 'memory',
      connected: true,
      synced: true,
      version: this.#snapshot.version,
      lastSyncAt: this.#snapshot.changedAt,
      lastPropagationMs: 0,
      skippedEntries: 0,
    };
  }

  #publish(): void {
    this.#snapshot = Object.freeze({
      version: this.#snapshot.version + 1,
      backends: Object.freeze([...this.#backends.values()]),
      changedAt: this.#now(),
    });
    const snap = this.#snapshot;
    for (const l of this.#listeners) l(snap);
  }
}
