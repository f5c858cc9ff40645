import type { BackendSpec } from '../common/backend.js';
import type { Logger } from '../common/logger.js';
import type { RegistrySnapshot } from '../common/registry/registry.js';
import type { HealthStatus } from './health/health-state.js';
import type { EventLog } from './stats/event-log.js';
import { Upstream, type PoolOptions } from './upstream.js';

export interface UpstreamSetOptions {
  readonly pool: PoolOptions;
  readonly logger: Logger;
  /** Called when a backend appears (or its URL changes) so it can be health checked. */
  readonly onAdded: (u: Upstream) => void;
  readonly onRemoved: (u: Upstream) => void;
  readonly events?: EventLog;
  readonly now?: () => number;
  /** Why a registry entry must not be routed to (it points at this balancer), or undefined. */
  readonly refuse?: (spec: BackendSpec) => string | undefined;
}

/**
 * The balancer's view of the registry: one Upstream per backend, reconciled
 * from full snapshots, and the list of routable ones (active and healthy),
 * rebuilt only when something changes, never per request.
 */
export class UpstreamSet {
  readonly #opts: UpstreamSetOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #byId = new Map<string, Upstream>();
  #routable: readonly Upstream[] = [];
  #active: readonly Upstream[] = [];
  #all: readonly Upstream[] = [];
  /** Resilience parts say here when a healthy backend must still be skipped (ejected, breaker open). */
  blocked: ((u: Upstream) => boolean) | undefined;
  /** Told the active backends (any health) whenever that set changes. */
  onMembersChanged: ((active: readonly Upstream[]) => void) | undefined;
  #version = 0;
  readonly #closing = new Set<Promise<void>>();
  /** Refused entries already warned about (id and URL), so a snapshot repeats no warning. */
  #warned = new Set<string>();

  constructor(opts: UpstreamSetOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  /** Routable upstreams in id order. The same array until the next change. */
  get routable(): readonly Upstream[] {
    return this.#routable;
  }

  get all(): readonly Upstream[] {
    return this.#all;
  }

  /** Backends active in the registry with a weight above 0, healthy or not (panic mode balances over these). */
  get active(): readonly Upstream[] {
    return this.#active;
  }

  get version(): number {
    return this.#version;
  }

  get(id: string): Upstream | undefined {
    return this.#byId.get(id);
  }

  /** Reconciles with a full registry snapshot. Idempotent. */
  apply(snapshot: RegistrySnapshot): void {
    this.#version = snapshot.version;
    const wanted = new Map<string, BackendSpec>();
    const refuse = this.#opts.refuse;
    const warned = new Set<string>();
    for (const b of snapshot.backends) {
      const reason = refuse?.(b);
      if (reason === undefined) {
        wanted.set(b.id, b);
        continue;
      }
      const key = `${b.id} ${b.url}`;
      if (!this.#warned.has(key)) this.#log.warn({ backendId: b.id, url: b.url, reason }, 'registry entry skipped');
      warned.add(key);
    }
    this.#warned = warned;
    for (const [id, u] of this.#byId) {
      const spec = wanted.get(id);
      if (!spec || spec.url !== u.url) this.#remove(u, spec ? 'url changed' : 'deregistered');
    }
    for (const spec of wanted.values()) {
      const u = this.#byId.get(spec.id);
      if (u) {
        if (u.spec.state !== spec.state) {
          this.#log.info({ backendId: spec.id, from: u.spec.state, to: spec.state }, 'backend state changed');
          this.#opts.events?.add('state-changed', spec.id, `${u.spec.state} -> ${spec.state}`);
        }
        if (u.spec.weight !== spec.weight && u.effectiveWeight === u.spec.weight) u.effectiveWeight = spec.weight;
        u.spec = spec;
        continue;
      }
      const added = new Upstream(spec, this.#opts.pool, this.#now(), this.#now);
      this.#byId.set(spec.id, added);
      this.#log.info({ backendId: spec.id, url: spec.url, weight: spec.weight, state: spec.state }, 'backend registered');
      this.#opts.events?.add('registered', spec.id, spec.url);
      this.#rebuild();
      this.#opts.onAdded(added);
    }
    this.#rebuild();
  }

  setHealth(id: string, status: HealthStatus): void {
    const u = this.#byId.get(id);
    if (!u || u.health === status) return;
    u.health = status;
    u.healthChangedAt = this.#now();
    if (status === 'healthy') u.healthySince = u.healthChangedAt;
    this.#rebuild();
  }

  /** Recomputes the routable set (after a resilience part changed its mind). */
  refresh(): void {
    this.#rebuild();
  }

  async close(): Promise<void> {
    for (const u of this.#byId.values()) this.#closing.add(u.pool.close().catch(() => undefined));
    this.#byId.clear();
    this.#rebuild();
    await Promise.all(this.#closing);
  }

  /** Destroys every pool at once (shutdown deadline passed). */
  async destroy(): Promise<void> {
    const all = [...this.#byId.values()];
    this.#byId.clear();
    this.#rebuild();
    await Promise.all(all.map((u) => u.pool.destroy().catch(() => undefined)));
  }

  #remove(u: Upstream, reason: string): void {
    this.#byId.delete(u.id);
    u.routable = false;
    this.#log.info({ backendId: u.id, url: u.url, reason, inFlight: u.inFlight }, 'backend removed');
    this.#opts.events?.add('removed', u.id, reason);
    this.#opts.onRemoved(u);
    // In-flight requests finish on the old pool; close() waits for them.
    const p = u.pool.close().catch(() => undefined).finally(() => this.#closing.delete(p));
    this.#closing.add(p);
  }

  #rebuilding = false;
  #rebuildAgain = false;

  #rebuild(): void {
    // A resilience part may change its mind while we ask it (an event during blocked()): go again.
    if (this.#rebuilding) {
      this.#rebuildAgain = true;
      return;
    }
    this.#rebuilding = true;
    try {
      do {
        this.#rebuildAgain = false;
        this.#rebuildOnce();
      } while (this.#rebuildAgain);
    } finally {
      this.#rebuilding = false;
    }
  }

  #rebuildOnce(): void {
    const all = [...this.#byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const routable: Upstream[] = [];
    const active: Upstream[] = [];
    const blocked = this.blocked;
    for (const u of all) {
      const isActive = u.spec.state === 'active' && u.spec.weight > 0;
      if (isActive) active.push(u);
      u.routable = isActive && u.health === 'healthy' && (blocked === undefined || !blocked(u));
      if (u.routable) routable.push(u);
    }
    this.#all = all;
    // Strategies cache per array: hand out a new array only when membership changed.
    if (!sameMembers(routable, this.#routable)) this.#routable = routable;
    if (!sameMembers(active, this.#active)) {
      this.#active = active;
      this.onMembersChanged?.(active);
    }
  }
}

function sameMembers(a: readonly Upstream[], b: readonly Upstream[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
