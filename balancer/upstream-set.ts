import type { BackendSpec } from '../common/backend.js';
import type { Logger } from '../common/logger.js';
import type { RegistrySnapshot } from '../common/registry/registry.js';
import type { HealthStatus } from './health/health-state.js';
import type { EventLog } from './stats/event-log.js';
import { Upstream } from './upstream.js';

/** Beyond this many backends added (or removed) by one snapshot, each is logged at debug and one summary at info. */
const LOGGED_CHANGES_PER_SNAPSHOT = 20;
/** New backends made per turn of the event loop when a snapshot brings many (update()). */
const PREPARE_SLICE = 1000;
/**
 * Least time between two rebuilds caused by health changes (a lone change is
 * applied at once): 25 ms, and 1 ms more per 100 backends, so a rebuild (linear
 * in the set) never takes more than about a tenth of the time between two.
 */
function rebuildSpacingMs(size: number): number {
  return 25 + size / 100;
}

export interface UpstreamSetOptions {
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
  /** Upstreams made ahead for a large snapshot (update()), taken by the apply that follows. */
  readonly #staged = new Map<string, Upstream>();
  #next: RegistrySnapshot | undefined;
  #preparing = false;
  #closed = false;
  /** Refused entries already warned about (id and URL), so a snapshot repeats no warning. */
  #warned = new Set<string>();

  constructor(opts: UpstreamSetOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  /** Routable upstreams in id order. The same array until the next change. */
  get routable(): readonly Upstream[] {
    if (this.#stale) this.#freshen();
    return this.#routable;
  }

  get all(): readonly Upstream[] {
    if (this.#stale) this.#freshen();
    return this.#all;
  }

  /** Backends active in the registry with a weight above 0, healthy or not (panic mode balances over these). */
  get active(): readonly Upstream[] {
    if (this.#stale) this.#freshen();
    return this.#active;
  }

  get version(): number {
    return this.#version;
  }

  get(id: string): Upstream | undefined {
    return this.#byId.get(id);
  }

  /**
   * Reconciles with a full registry snapshot. Idempotent, and linear in the
   * snapshot's size: one pass over it, one rebuild of the routable set at the
   * end, whatever the number of backends added or removed. With `announceInTurns`
   * (the update() path), more than PREPARE_SLICE new backends are announced
   * (onAdded: health checks) a slice per later turn of the event loop.
   */
  apply(snapshot: RegistrySnapshot, preparedMs = 0, announceInTurns = false): void {
    const t0 = performance.now();
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
    const removed: Upstream[] = [];
    for (const [id, u] of this.#byId) {
      const spec = wanted.get(id);
      if (!spec || spec.url !== u.url) removed.push(u);
    }
    const loud = removed.length <= LOGGED_CHANGES_PER_SNAPSHOT;
    for (const u of removed) this.#remove(u, wanted.has(u.id) ? 'url changed' : 'deregistered', loud);
    if (!loud) this.#opts.events?.add('removed', undefined, `${removed.length} backends`);
    const added: Upstream[] = [];
    for (const spec of wanted.values()) {
      const u = this.#byId.get(spec.id);
      if (u) {
        if (u.spec === spec) continue;
        if (u.spec.state !== spec.state) {
          this.#log.info({ backendId: spec.id, from: u.spec.state, to: spec.state }, 'backend state changed');
          this.#opts.events?.add('state-changed', spec.id, `${u.spec.state} -> ${spec.state}`);
        }
        if (u.spec.weight !== spec.weight && u.effectiveWeight === u.spec.weight) u.effectiveWeight = spec.weight;
        u.spec = spec;
        continue;
      }
      const staged = this.#staged.get(spec.id);
      const fresh = staged?.url === spec.url ? staged : new Upstream(spec, this.#now(), this.#now);
      if (fresh === staged) fresh.spec = spec;
      this.#byId.set(spec.id, fresh);
      added.push(fresh);
    }
    this.#staged.clear();
    this.#logAdded(added);
    if (added.length || removed.length) this.#membersChanged = true;
    this.#rebuild();
    if (announceInTurns && added.length > PREPARE_SLICE) void this.#announce(added);
    else for (const u of added) this.#opts.onAdded(u);
    if (added.length > LOGGED_CHANGES_PER_SNAPSHOT || removed.length > LOGGED_CHANGES_PER_SNAPSHOT) {
      const ms = Math.round((performance.now() - t0) * 10) / 10;
      this.#log.info(
        { version: snapshot.version, added: added.length, removed: removed.length, total: this.#byId.size, ms, preparedMs },
        'registry snapshot applied',
      );
    }
  }

  /**
   * The registry's path in: like apply(), but a snapshot that brings more than
   * PREPARE_SLICE new backends has their objects made a slice per turn of the
   * event loop first (requests keep flowing meanwhile), then is applied at
   * once. Snapshots are applied in order; one that arrives during the
   * preparation of another replaces it.
   */
  update(snapshot: RegistrySnapshot): void {
    if (this.#preparing) {
      this.#next = snapshot;
      return;
    }
    const fresh = this.#freshSpecs(snapshot);
    if (fresh.length <= PREPARE_SLICE) return this.apply(snapshot);
    void this.#drain(snapshot, fresh);
  }

  async #drain(first: RegistrySnapshot, firstFresh: readonly BackendSpec[]): Promise<void> {
    this.#preparing = true;
    try {
      let snap: RegistrySnapshot | undefined = first;
      let fresh = firstFresh;
      while (snap !== undefined && !this.#closed) {
        const t0 = performance.now();
        const complete = await this.#prepare(fresh);
        // The apply gets a turn of the event loop of its own, not the last slice's.
        if (complete) await nextTurn();
        if (this.#closed) break;
        if (complete && this.#next === undefined) this.apply(snap, Math.round(performance.now() - t0), true);
        snap = this.#next;
        this.#next = undefined;
        if (snap) fresh = this.#freshSpecs(snap);
      }
    } finally {
      this.#preparing = false;
      this.#staged.clear();
    }
  }

  /** Backends of a snapshot that would need a new Upstream (new id or new URL), not yet made ahead. */
  #freshSpecs(snapshot: RegistrySnapshot): BackendSpec[] {
    const fresh: BackendSpec[] = [];
    for (const b of snapshot.backends) if (this.#byId.get(b.id)?.url !== b.url && this.#staged.get(b.id)?.url !== b.url) fresh.push(b);
    return fresh;
  }

  /** Makes Upstreams ahead, PREPARE_SLICE per turn of the event loop; false when a newer snapshot (or close) interrupted. */
  async #prepare(fresh: readonly BackendSpec[]): Promise<boolean> {
    for (let i = 0; i < fresh.length; i++) {
      if (i % PREPARE_SLICE === 0) {
        await nextTurn();
        if (this.#next !== undefined || this.#closed) return false;
      }
      const spec = fresh[i]!;
      this.#staged.set(spec.id, new Upstream(spec, this.#now(), this.#now));
    }
    return true;
  }

  /** onAdded for many new backends, PREPARE_SLICE per turn; one removed (or replaced) meanwhile is skipped. */
  async #announce(added: readonly Upstream[]): Promise<void> {
    for (let i = 0; i < added.length; i++) {
      if (i % PREPARE_SLICE === 0) {
        await nextTurn();
        if (this.#closed) return;
      }
      const u = added[i]!;
      if (this.#byId.get(u.id) === u) this.#opts.onAdded(u);
    }
  }

  setHealth(id: string, status: HealthStatus): void {
    const u = this.#byId.get(id);
    if (!u || u.health === status) return;
    u.setHealth(status, this.#now());
    this.#rebuildSoon();
  }

  /** Recomputes the routable set (after a resilience part changed its mind). */
  refresh(): void {
    this.#rebuild();
  }

  /** Stops following the registry: the set empties (the engine closes the connections). */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#rebuildTimer);
    this.#byId.clear();
    this.#membersChanged = true;
    this.#rebuild();
    return Promise.resolve();
  }

  #remove(u: Upstream, reason: string, loud: boolean): void {
    this.#byId.delete(u.id);
    u.routable = false;
    const fields = { backendId: u.id, url: u.url, reason, inFlight: u.inFlight };
    if (loud) {
      this.#log.info(fields, 'backend removed');
      this.#opts.events?.add('removed', u.id, reason);
    } else this.#log.debug(fields, 'backend removed');
    // The engine's pool for it finishes its in-flight requests, then closes.
    this.#opts.onRemoved(u);
  }

  /** One line per new backend; for a snapshot that brings many, each at debug and one summary when applied. */
  #logAdded(added: readonly Upstream[]): void {
    const loud = added.length <= LOGGED_CHANGES_PER_SNAPSHOT;
    if (!loud) {
      // The dashboard's event log keeps 200 lines: one for the lot, not 10,000.
      this.#opts.events?.add('registered', undefined, `${added.length} backends`);
      if (this.#log.isLevelEnabled('debug'))
        for (const u of added) this.#log.debug({ backendId: u.id, url: u.url, weight: u.spec.weight, state: u.spec.state }, 'backend registered');
      return;
    }
    for (const u of added) {
      this.#log.info({ backendId: u.id, url: u.url, weight: u.spec.weight, state: u.spec.state }, 'backend registered');
      this.#opts.events?.add('registered', u.id, u.url);
    }
  }

  /** Health changed since the last rebuild: the next read (or the next turn of the event loop) rebuilds once. */
  #stale = false;
  #rebuildTimer: NodeJS.Timeout | undefined;
  #rebuiltAt = -Infinity;
  /** Backends were added or removed: the id-ordered list is sorted again. */
  #membersChanged = false;

  /**
   * Health results arrive one by one (10,000 of them in a first round). Each
   * marks the set stale; a read rebuilds it at once unless it was rebuilt in
   * the last rebuildSpacingMs(), and a timer catches the rest: a storm of
   * changes costs a rebuild per spacing, while a lone change is seen by the
   * very next request.
   */
  #rebuildSoon(): void {
    this.#stale = true;
    if (this.#rebuildTimer) return;
    const wait = Math.max(0, rebuildSpacingMs(this.#byId.size) - (performance.now() - this.#rebuiltAt));
    this.#rebuildTimer = setTimeout(() => {
      this.#rebuildTimer = undefined;
      if (this.#stale) this.#rebuild();
    }, wait);
    this.#rebuildTimer.unref();
  }

  /** For reads: a stale set is rebuilt unless a rebuild happened moments ago (the timer then follows shortly). */
  #freshen(): void {
    if (performance.now() - this.#rebuiltAt >= rebuildSpacingMs(this.#byId.size)) this.#rebuild();
  }

  #rebuild(): void {
    this.#stale = false;
    this.#rebuiltAt = performance.now();
    // blocked() only reads (resilience state moves in the router's tick), so one pass is current.
    if (this.#membersChanged) {
      this.#membersChanged = false;
      this.#all = byId(this.#byId.values());
    }
    const all = this.#all;
    const routable: Upstream[] = [];
    const active: Upstream[] = [];
    const blocked = this.blocked;
    for (const u of all) {
      const isActive = u.spec.state === 'active' && u.spec.weight > 0;
      if (isActive) active.push(u);
      u.routable = isActive && u.health === 'healthy' && (blocked === undefined || !blocked(u));
      if (u.routable) routable.push(u);
    }
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

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The upstreams in id order; a registry snapshot comes sorted already, and then this is one pass. */
function byId(values: Iterable<Upstream>): Upstream[] {
  const all = [...values];
  for (let i = 1; i < all.length; i++) {
    if (all[i - 1]!.id > all[i]!.id) return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  return all;
}
