import type { BackendSpec } from '../common/backend.js';
import type { Lifecycle } from '../common/lifecycle.js';
import type { Logger } from '../common/logger.js';
import { RegistryConflictError, type Registry } from '../common/registry/registry.js';
import type { ContainerEvent, ContainerFacts, ContainerSource } from './container-source.js';
import { classifyEvent, type EventKind } from './event-kinds.js';
import type { WriterLease } from './lease.js';
import { reconcile, type Operation } from './reconcile.js';
import { isOwned, toBackends, type OwnerScope, type SkippedContainer } from './to-backends.js';

export interface ControllerSettings {
  readonly network: string;
  readonly labelPrefix: string;
  readonly project?: string;
  readonly resyncIntervalMs: number;
  /** Delay before retrying a failed reconcile (n from 1); default 250 ms doubling to 5 s. */
  readonly retryDelay?: (attempt: number) => number;
}

export interface ControllerDeps {
  readonly settings: ControllerSettings;
  readonly source: ContainerSource;
  readonly registry: Registry;
  readonly lease: WriterLease;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** Counters since start, read by the controller's /metrics. */
export interface ControllerCounters {
  /** Container events seen, by kind (register, drain, deregister, ignore). */
  readonly events: ReadonlyMap<EventKind, number>;
  /** Registry writes made, by kind (upsert, set-state, remove; drain and remove from events included). */
  readonly writes: ReadonlyMap<'upsert' | 'set-state' | 'remove', number>;
  readonly reconciles: number;
  readonly reconcileFailures: number;
  /** Plans dropped because an event arrived while they were being applied. */
  readonly stalePlans: number;
  readonly dockerConnected: boolean;
  readonly dockerReconnects: number;
}

export interface ControllerStatus {
  readonly leader: boolean;
  readonly reconciles: number;
  readonly failures: number;
  readonly lastReconcileAt?: number;
  readonly lastError?: string;
  readonly desired: number;
  readonly stopping: number;
}

function defaultRetryDelay(attempt: number): number {
  return Math.min(5000, 250 * 2 ** Math.min(attempt - 1, 5));
}

/**
 * Keeps the registry equal to the labelled containers. Every event, every
 * periodic tick and every change of the registry leads to a full,
 * idempotent reconcile: list the containers, compute the desired backends
 * (toBackends), diff them against the registry (reconcile) and apply the
 * writes, only while holding the writer lease. Reconciles run one at a time;
 * requests arriving meanwhile are merged into one more run.
 *
 * Two events act at once, before the reconcile: the stop signal marks the
 * container's backend draining (the balancer stops sending it new requests
 * while it finishes open ones), and die/pause/unhealthy remove it. A plan
 * computed from a listing older than the latest event is dropped, not
 * applied, so a slow listing never undoes an event.
 */
export class DockerController implements Lifecycle {
  readonly #settings: ControllerSettings;
  readonly #source: ContainerSource;
  readonly #registry: Registry;
  readonly #lease: WriterLease;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #scope: OwnerScope;
  readonly #retryDelay: (attempt: number) => number;
  /** Containers whose stop signal was seen, with the engine time of the signal. */
  readonly #stopping = new Map<string, number>();
  /** Misconfigured containers already reported, with the reason, so each is logged once. */
  readonly #reported = new Map<string, string>();
  readonly #conflictsReported = new Set<string>();
  /** Ids whose write the registry refused (their key holds a foreign value), so each is logged once. */
  readonly #refusedReported = new Set<string>();
  readonly #unsubscribe: (() => void)[] = [];
  #facts: readonly ContainerFacts[] | undefined;
  /** Bumped by every event; a listing taken at an older value is stale. */
  #eventSeq = 0;
  #factsSeq = -1;
  #wantFull = false;
  #wantApply = false;
  #running: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #reconciles = 0;
  #lastReconcileAt: number | undefined;
  #lastError: string | undefined;
  #desiredCount = 0;
  readonly #events = new Map<EventKind, number>();
  readonly #writes = new Map<'upsert' | 'set-state' | 'remove', number>();
  #totalFailures = 0;
  #stalePlans = 0;
  #dockerConnected = false;
  #dockerConnections = 0;
  #synced = false;
  #closed = false;

  constructor(deps: ControllerDeps) {
    this.#settings = deps.settings;
    this.#source = deps.source;
    this.#registry = deps.registry;
    this.#lease = deps.lease;
    this.#log = deps.logger;
    this.#now = deps.now ?? Date.now;
    this.#scope = { network: deps.settings.network, project: deps.settings.project };
    this.#retryDelay = deps.settings.retryDelay ?? defaultRetryDelay;
    this.#source.watch({
      event: (e) => this.#onEvent(e),
      connected: () => {
        this.#dockerConnected = true;
        this.#dockerConnections++;
        this.#schedule('full');
      },
      disconnected: () => {
        this.#dockerConnected = false;
      },
      changed: () => {
        if (this.#closed) return;
        // Like an event: a listing taken before this one may be stale.
        this.#eventSeq++;
        this.#schedule('full');
      },
    });
  }

  async start(): Promise<void> {
    this.#unsubscribe.push(this.#registry.subscribe(() => this.#schedule('apply')));
    this.#unsubscribe.push(
      this.#lease.subscribe((held) => {
        if (held) {
          this.#synced = false;
          this.#schedule('full');
        }
      }),
    );
    this.#resyncTimer = setInterval(() => this.#schedule('full'), this.#settings.resyncIntervalMs);
    this.#resyncTimer.unref();
    this.#schedule('full');
  }

  /** Stops following; the registry is left as it is, for the next controller to take over. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const u of this.#unsubscribe.splice(0)) u();
    if (this.#resyncTimer) clearInterval(this.#resyncTimer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    await this.#running;
  }

  status(): ControllerStatus {
    return {
      leader: this.#lease.held,
      reconciles: this.#reconciles,
      failures: this.#failures,
      lastReconcileAt: this.#lastReconcileAt,
      lastError: this.#lastError,
      desired: this.#desiredCount,
      stopping: this.#stopping.size,
    };
  }

  counters(): ControllerCounters {
    return {
      events: this.#events,
      writes: this.#writes,
      reconciles: this.#reconciles,
      reconcileFailures: this.#totalFailures,
      stalePlans: this.#stalePlans,
      dockerConnected: this.#dockerConnected,
      dockerReconnects: Math.max(0, this.#dockerConnections - 1),
    };
  }

  #countWrite(kind: 'upsert' | 'set-state' | 'remove'): void {
    this.#writes.set(kind, (this.#writes.get(kind) ?? 0) + 1);
  }

  // --- events ---------------------------------------------------------------

  #onEvent(e: ContainerEvent): void {
    if (this.#closed) return;
    const kind = classifyEvent(e.action, e.signal);
    this.#events.set(kind, (this.#events.get(kind) ?? 0) + 1);
    this.#log.debug({ action: e.action, containerId: e.containerId, name: e.name, signal: e.signal, kind, lagMs: this.#now() - e.at }, 'container event');
    if (kind === 'ignore') return;
    this.#eventSeq++;
    if (kind === 'drain') {
      const prev = this.#stopping.get(e.containerId);
      if (prev === undefined || e.at > prev) this.#stopping.set(e.containerId, e.at);
      this.#actNow(e, 'drain');
    } else if (kind === 'deregister') {
      this.#actNow(e, 'remove');
    } else if (e.action === 'start' || e.action === 'restart') {
      this.#stopping.delete(e.containerId);
    }
    this.#schedule('full');
  }

  /** The event's own write, before the full reconcile: drain or remove the container's entries. */
  #actNow(e: ContainerEvent, what: 'drain' | 'remove'): void {
    if (!this.#lease.held) return;
    const entries = this.#registry.current().backends.filter((b) => isOwned(b, this.#scope) && b.labels.container === e.containerId);
    for (const b of entries) {
      if (what === 'drain' && b.state === 'draining') continue;
      const lagMs = this.#now() - e.at;
      const write = what === 'drain' ? this.#registry.setState(b.id, 'draining') : this.#registry.remove(b.id);
      write.then(
        () => {
          this.#countWrite(what === 'drain' ? 'set-state' : 'remove');
          const fields = { backendId: b.id, containerId: e.containerId, action: e.action, signal: e.signal, lagMs, writtenAfterMs: this.#now() - e.at };
          if (what === 'drain') this.#log.info(fields, 'backend draining on stop signal');
          else this.#log.info(fields, 'backend deregistered on event');
        },
        (err: unknown) => this.#log.warn({ error: (err as Error).message, backendId: b.id, action: e.action }, 'event write failed, the reconcile will retry'),
      );
    }
  }

  // --- reconcile loop -------------------------------------------------------

  #schedule(what: 'full' | 'apply'): void {
    if (this.#closed) return;
    if (what === 'full') this.#wantFull = true;
    else this.#wantApply = true;
    if (this.#running) return;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      // A request that arrived after the loop's last check must not be lost.
      if ((this.#wantFull || this.#wantApply) && !this.#closed) this.#schedule(this.#wantFull ? 'full' : 'apply');
    });
  }

  async #loop(): Promise<void> {
    while ((this.#wantFull || this.#wantApply) && !this.#closed) {
      const full = this.#wantFull;
      this.#wantFull = false;
      this.#wantApply = false;
      if (!this.#lease.held) continue; // standby: nothing to write, nothing to read
      try {
        if (full || this.#factsSeq !== this.#eventSeq) await this.#list();
        await this.#apply();
        this.#reconciles++;
        this.#lastReconcileAt = this.#now();
        if (this.#failures > 0) this.#log.info({ failures: this.#failures }, 'reconcile recovered');
        this.#failures = 0;
        this.#lastError = undefined;
      } catch (err) {
        this.#failures++;
        this.#totalFailures++;
        this.#lastError = (err as Error).message;
        const delay = this.#retryDelay(this.#failures);
        const fields = { error: this.#lastError, failures: this.#failures, retryInMs: delay };
        if (this.#failures === 1) this.#log.warn(fields, 'reconcile failed, retrying');
        else this.#log.debug(fields, 'reconcile failed again');
        if (this.#retryTimer) clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => this.#schedule('full'), delay);
        this.#retryTimer.unref();
        return;
      }
    }
  }

  async #list(): Promise<void> {
    const seq = this.#eventSeq;
    const facts = await this.#source.list();
    this.#facts = facts;
    this.#factsSeq = seq;
    // Forget stop marks of containers that are gone or no longer running.
    const live = new Set(facts.filter((f) => f.state === 'running').map((f) => f.id));
    for (const id of this.#stopping.keys()) if (!live.has(id)) this.#stopping.delete(id);
  }

  async #apply(): Promise<void> {
    const facts = this.#facts;
    if (!facts || !this.#lease.held) return;
    const reg = this.#registry.status();
    if (!reg.synced) throw new Error(reg.syncError ? `the registry cannot be read: ${reg.syncError}` : 'the registry has not loaded a snapshot yet');
    const seq = this.#factsSeq;
    const desired = toBackends(facts, {
      network: this.#settings.network,
      labelPrefix: this.#settings.labelPrefix,
      project: this.#settings.project,
      stopping: this.#stopping,
    });
    this.#desiredCount = desired.backends.length;
    this.#report(desired.skipped);
    const actual = this.#registry.current();
    const plan = reconcile(desired.backends, actual.backends, (b) => isOwned(b, this.#scope), actual.skipped);
    for (const id of this.#conflictsReported) if (!plan.conflicts.some((c) => c.id === id)) this.#conflictsReported.delete(id);
    for (const c of plan.conflicts) {
      if (this.#conflictsReported.has(c.id)) continue;
      this.#conflictsReported.add(c.id);
      this.#log.error({ backendId: c.id, reason: c.reason }, 'backend id conflict, entry left alone');
    }
    for (const op of plan.operations) {
      if (seq !== this.#eventSeq) {
        // An event arrived since the listing: this plan may undo it. List again.
        this.#stalePlans++;
        this.#wantFull = true;
        return;
      }
      if (!this.#lease.held) return;
      try {
        await this.#execute(op, desired.backends);
        if (op.kind === 'upsert') this.#refusedReported.delete(op.spec.id);
      } catch (err) {
        // A key the snapshot did not list (so not in `conflicts`) holds a foreign value: leave it, apply the rest.
        if (!(err instanceof RegistryConflictError)) throw err;
        if (this.#refusedReported.has(err.id)) continue;
        this.#refusedReported.add(err.id);
        this.#log.error({ backendId: err.id, reason: err.message }, 'backend id conflict, entry left alone');
      }
    }
    for (const id of this.#refusedReported) if (!desired.backends.some((b) => b.id === id)) this.#refusedReported.delete(id);
    if (!this.#synced) {
      this.#synced = true;
      this.#log.info(
        { backends: desired.backends.length, containers: facts.length, skipped: desired.skipped.length, writes: plan.operations.length },
        'registry in step with containers',
      );
    }
  }

  async #execute(op: Operation, desired: readonly BackendSpec[]): Promise<void> {
    switch (op.kind) {
      case 'upsert': {
        await this.#registry.upsert(op.spec);
        this.#countWrite('upsert');
        const s = op.spec;
        const fields = { backendId: s.id, url: s.url, weight: s.weight, state: s.state, containerId: s.labels.container };
        if (op.isNew) this.#log.info(fields, 'backend registered');
        else this.#log.info(fields, 'backend updated');
        return;
      }
      case 'set-state': {
        await this.#registry.setState(op.id, op.state);
        this.#countWrite('set-state');
        const spec = desired.find((b) => b.id === op.id);
        this.#log.info({ backendId: op.id, state: op.state, containerId: spec?.labels.container }, 'backend state set');
        return;
      }
      case 'remove':
        await this.#registry.remove(op.id);
        this.#countWrite('remove');
        this.#log.info({ backendId: op.id }, 'backend deregistered');
        return;
    }
  }

  #report(skipped: readonly SkippedContainer[]): void {
    const seen = new Set<string>();
    for (const s of skipped) {
      seen.add(s.containerId);
      if (this.#reported.get(s.containerId) === s.reason) continue;
      this.#reported.set(s.containerId, s.reason);
      const fields = { containerId: s.containerId, name: s.name, reason: s.reason };
      if (s.misconfigured) this.#log.error(fields, 'container not registered: misconfigured');
      else this.#log.debug(fields, 'container not registered');
    }
    for (const id of this.#reported.keys()) if (!seen.has(id)) this.#reported.delete(id);
  }
}
