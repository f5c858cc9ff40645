/** What the dashboard's event log shows; `type` names are stable. */
export type LbEventType =
  | 'registered'
  | 'removed'
  | 'state-changed'
  | 'healthy'
  | 'unhealthy'
  | 'ejected'
  | 'returned'
  | 'breaker-opened'
  | 'breaker-half-open'
  | 'breaker-closed'
  | 'strategy-changed'
  | 'registry-lost'
  | 'registry-restored'
  /** A fault injected from outside (POST /events, switchyard chaos), not something the balancer saw. */
  | 'injected'
  /** The controller's autoscaler changed a service's replica count (announced through Redis). */
  | 'scaled';

export interface LbEvent {
  readonly seq: number;
  readonly at: string;
  readonly type: LbEventType;
  readonly backendId?: string;
  readonly detail?: string;
}

/** The last `capacity` events, with listeners for live streaming. */
export class EventLog {
  readonly #capacity: number;
  readonly #events: LbEvent[] = [];
  readonly #listeners = new Set<(e: LbEvent) => void>();
  readonly #now: () => number;
  #seq = 0;

  constructor(capacity = 200, now: () => number = Date.now) {
    this.#capacity = capacity;
    this.#now = now;
  }

  add(type: LbEventType, backendId?: string, detail?: string): LbEvent {
    const e: LbEvent = { seq: ++this.#seq, at: new Date(this.#now()).toISOString(), type, ...(backendId ? { backendId } : {}), ...(detail ? { detail } : {}) };
    this.#events.push(e);
    if (this.#events.length > this.#capacity) this.#events.shift();
    for (const l of this.#listeners) l(e);
    return e;
  }

  recent(limit = 50): LbEvent[] {
    return this.#events.slice(-limit);
  }

  subscribe(listener: (e: LbEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
