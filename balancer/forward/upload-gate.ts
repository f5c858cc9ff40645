/**
 * The share of a backend's connections that requests with a body still
 * arriving (streaming uploads) may hold, for the engines whose connection
 * pools are not our own (undici, http-proxy; the raw engine's pool keeps the
 * same rule itself): at most `max` per backend at once, the rest wait in
 * FIFO order, so slow uploaders never take every connection.
 */
export class UploadGate {
  readonly #max: number;
  readonly #held = new Map<string, number>();
  readonly #waiting = new Map<string, (() => void)[]>();

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /** Calls `go` once an upload slot of `backend` is free (at once if one is); returns a cancel for a wait. */
  acquire(backend: string, go: () => void): () => void {
    const held = this.#held.get(backend) ?? 0;
    if (held < this.#max) {
      this.#held.set(backend, held + 1);
      go();
      return noop;
    }
    let q = this.#waiting.get(backend);
    if (q === undefined) this.#waiting.set(backend, (q = []));
    q.push(go);
    return () => {
      const i = q.indexOf(go);
      if (i >= 0) q.splice(i, 1);
    };
  }

  /** An upload is fully sent (or gave up): its slot goes to the next waiting, if any. */
  release(backend: string): void {
    const q = this.#waiting.get(backend);
    const next = q?.shift();
    if (next !== undefined) {
      next();
      return;
    }
    if (q !== undefined) this.#waiting.delete(backend);
    const held = (this.#held.get(backend) ?? 1) - 1;
    if (held <= 0) this.#held.delete(backend);
    else this.#held.set(backend, held);
  }
}

function noop(): void {}
