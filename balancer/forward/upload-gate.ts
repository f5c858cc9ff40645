import type { Upstream } from '../upstream.js';

/** A request waiting for an upload slot. */
export interface UploadWaiter {
  /** A slot of `up` is now this request's (it gives it back with release()). */
  uploadSlotFree(up: Upstream): void;
}

/**
 * The share of a backend's connections that requests with a body still
 * arriving (streaming uploads) may hold, on every engine: at most `max` per
 * backend at once, the rest wait in FIFO order, so slow uploaders never take
 * every connection and the others keep serving everyone else.
 */
export class UploadGate {
  readonly #max: number;
  readonly #held = new Map<Upstream, number>();
  readonly #waiting = new Map<Upstream, UploadWaiter[]>();

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /** True when `w` got a slot of `up` at once; otherwise it waits and hears uploadSlotFree(). */
  acquire(up: Upstream, w: UploadWaiter): boolean {
    const held = this.#held.get(up) ?? 0;
    if (held < this.#max) {
      this.#held.set(up, held + 1);
      return true;
    }
    let q = this.#waiting.get(up);
    if (q === undefined) this.#waiting.set(up, (q = []));
    q.push(w);
    return false;
  }

  /** `w` no longer waits (it gave up, or no longer needs a slot). */
  cancel(up: Upstream, w: UploadWaiter): void {
    const q = this.#waiting.get(up);
    const i = q === undefined ? -1 : q.indexOf(w);
    if (i >= 0) q!.splice(i, 1);
  }

  /** An upload is fully received (or gave up): its slot goes to the next waiting, if any. */
  release(up: Upstream): void {
    const q = this.#waiting.get(up);
    const next = q?.shift();
    if (next !== undefined) {
      next.uploadSlotFree(up);
      return;
    }
    if (q !== undefined) this.#waiting.delete(up);
    const held = (this.#held.get(up) ?? 1) - 1;
    if (held <= 0) this.#held.delete(up);
    else this.#held.set(up, held);
  }
}
