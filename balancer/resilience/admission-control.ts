import { WaitHistogram } from '../stats/wait-histogram.js';
import { systemScheduler, type Scheduler } from './scheduler.js';

export interface AdmissionOptions {
  /** Requests the balancer works on at once (HAProxy maxconn). */
  readonly maxInFlight: number;
  /** Requests that may wait for a slot; 0 = no queue (reject at the cap). */
  readonly queueSize: number;
  /** Longest wait in the queue before a 503 (HAProxy timeout queue). */
  readonly queueTimeoutMs: number;
}

export const ADMISSION_DEFAULTS: AdmissionOptions = Object.freeze({ maxInFlight: 1024, queueSize: 1024, queueTimeoutMs: 5_000 });

/** Told what became of a queued request. Exactly one of the two is called, once, unless the ticket is cancelled first. */
export interface QueueWaiter {
  /** A slot was handed over: the request now holds it and must `release()` it when done. */
  granted(waitedMs: number): void;
  /** No slot within queueTimeoutMs: answer 503 SWY_QUEUE_TIMEOUT with Retry-After. */
  timedOut(waitedMs: number): void;
}

export interface QueueTicket {
  /** The client went away while waiting: leave the queue (no callback follows). No-op once settled. */
  cancel(): void;
}

export type Admission =
  | { readonly status: 'granted' }
  | { readonly status: 'queued'; readonly ticket: QueueTicket }
  /** Cap reached and queue full: answer 503 SWY_QUEUE_FULL with Retry-After. */
  | { readonly status: 'rejected' };

export interface AdmissionStatus {
  readonly inFlight: number;
  readonly queued: number;
  readonly limit: number;
  readonly queueSize: number;
  readonly queueTimeoutMs: number;
  /** Totals since start. */
  readonly admitted: number;
  readonly queuedTotal: number;
  readonly rejected: number;
  readonly timedOut: number;
  readonly cancelled: number;
}

const GRANTED: Admission = Object.freeze({ status: 'granted' });
const REJECTED: Admission = Object.freeze({ status: 'rejected' });

class Entry implements QueueTicket {
  prev: Entry | undefined;
  next: Entry | undefined;
  queued = true;
  readonly waiter: QueueWaiter;
  readonly enqueuedAt: number;
  readonly deadline: number;
  readonly #owner: AdmissionControl;

  constructor(owner: AdmissionControl, waiter: QueueWaiter, enqueuedAt: number, deadline: number) {
    this.#owner = owner;
    this.waiter = waiter;
    this.enqueuedAt = enqueuedAt;
    this.deadline = deadline;
  }

  cancel(): void {
    if (this.queued) this.#owner.cancelEntry(this);
  }
}

/**
 * A cap on in-flight requests with a bounded FIFO queue in front (seed 004's
 * worker pool and queue, for an event loop; HAProxy maxconn + timeout
 * queue). Queue deadlines are in enqueue order (one timeout for all), so a
 * single timer, armed for the head, expires them. Nothing here does I/O; the
 * proxy maps `rejected` / `timedOut` to 503 with Retry-After.
 */
export class AdmissionControl {
  readonly queueSize: number;
  readonly queueTimeoutMs: number;
  readonly #scheduler: Scheduler;
  #limit: number;
  #inFlight = 0;
  #queued = 0;
  #head: Entry | undefined;
  #tail: Entry | undefined;
  #timer: unknown;
  #timerAt = 0;
  #draining = false;
  #admitted = 0;
  #queuedTotal = 0;
  #rejected = 0;
  #timedOut = 0;
  #cancelled = 0;
  /** How long the requests that queued waited, granted or timed out. */
  readonly queueWait = new WaitHistogram();

  constructor(options: Partial<AdmissionOptions> = {}, scheduler: Scheduler = systemScheduler) {
    const o = { ...ADMISSION_DEFAULTS, ...options };
    checkLimit(o.maxInFlight);
    if (!Number.isInteger(o.queueSize) || o.queueSize < 0) throw new RangeError(`invalid queueSize ${o.queueSize}; expected an integer >= 0`);
    if (!(o.queueTimeoutMs > 0) || !Number.isFinite(o.queueTimeoutMs)) {
      throw new RangeError(`invalid queueTimeoutMs ${o.queueTimeoutMs}; expected a positive number of milliseconds`);
    }
    this.#limit = o.maxInFlight;
    this.queueSize = o.queueSize;
    this.queueTimeoutMs = o.queueTimeoutMs;
    this.#scheduler = scheduler;
  }

  get limit(): number {
    return this.#limit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#queued;
  }

  /**
   * The allocation-free fast path: takes a slot and returns true when one is
   * free and nobody waits; otherwise returns false and changes nothing (then
   * call tryAcquire() with a waiter).
   */
  tryGrant(): boolean {
    if (this.#inFlight < this.#limit && this.#queued === 0) {
      this.#inFlight++;
      this.#admitted++;
      return true;
    }
    return false;
  }

  /**
   * Admits now, queues, or rejects. A queued request hears back through
   * `waiter` (granted or timed out) unless its ticket is cancelled.
   */
  tryAcquire(waiter: QueueWaiter): Admission {
    if (this.#inFlight < this.#limit && this.#queued === 0) {
      this.#inFlight++;
      this.#admitted++;
      return GRANTED;
    }
    if (this.#queued >= this.queueSize) {
      this.#rejected++;
      return REJECTED;
    }
    const now = this.#scheduler.now();
    const e = new Entry(this, waiter, now, now + this.queueTimeoutMs);
    e.prev = this.#tail;
    if (this.#tail === undefined) this.#head = e;
    else this.#tail.next = e;
    this.#tail = e;
    this.#queued++;
    this.#queuedTotal++;
    this.#arm();
    return { status: 'queued', ticket: e };
  }

  /** A granted request finished; its slot goes to the head of the queue. */
  release(): void {
    if (this.#inFlight > 0) this.#inFlight--;
    this.#drain();
  }

  /** Moves the cap (adaptive mode); a higher cap admits queued requests at once. */
  setLimit(limit: number): void {
    checkLimit(limit);
    this.#limit = limit;
    this.#drain();
  }

  /** Seconds a rejected client should wait before retrying. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.queueTimeoutMs / 1000));
  }

  status(): AdmissionStatus {
    return {
      inFlight: this.#inFlight,
      queued: this.#queued,
      limit: this.#limit,
      queueSize: this.queueSize,
      queueTimeoutMs: this.queueTimeoutMs,
      admitted: this.#admitted,
      queuedTotal: this.#queuedTotal,
      rejected: this.#rejected,
      timedOut: this.#timedOut,
      cancelled: this.#cancelled,
    };
  }

  /** Shutdown: stops the timer and times out everyone still waiting. */
  close(): void {
    this.#disarm();
    const now = this.#scheduler.now();
    while (this.#head !== undefined) {
      const e = this.#shift();
      this.#timedOut++;
      e.waiter.timedOut(now - e.enqueuedAt);
    }
  }

  /** @internal Entry.cancel(). */
  cancelEntry(e: Entry): void {
    const wasHead = e === this.#head;
    this.#unlink(e);
    this.#cancelled++;
    if (wasHead) this.#arm();
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#head !== undefined && this.#inFlight < this.#limit) {
        const e = this.#shift();
        this.#inFlight++;
        this.#admitted++;
        const waited = this.#scheduler.now() - e.enqueuedAt;
        this.queueWait.record(waited);
        e.waiter.granted(waited);
      }
    } finally {
      this.#draining = false;
    }
    this.#arm();
  }

  #expire(): void {
    this.#timer = undefined;
    const now = this.#scheduler.now();
    while (this.#head !== undefined && this.#head.deadline <= now) {
      const e = this.#shift();
      this.#timedOut++;
      this.queueWait.record(now - e.enqueuedAt);
      e.waiter.timedOut(now - e.enqueuedAt);
    }
    this.#arm();
  }

  /** Keeps one timer armed for the head's deadline. */
  #arm(): void {
    const head = this.#head;
    if (head === undefined) {
      this.#disarm();
      return;
    }
    if (this.#timer !== undefined && this.#timerAt === head.deadline) return;
    this.#disarm();
    this.#timerAt = head.deadline;
    this.#timer = this.#scheduler.setTimeout(() => this.#expire(), Math.max(0, head.deadline - this.#scheduler.now()));
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    this.#scheduler.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #shift(): Entry {
    const e = this.#head as Entry;
    this.#unlink(e);
    return e;
  }

  #unlink(e: Entry): void {
    if (e.prev === undefined) this.#head = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) this.#tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = undefined;
    e.next = undefined;
    e.queued = false;
    this.#queued--;
  }
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`invalid maxInFlight ${limit}; expected an integer >= 1`);
}
