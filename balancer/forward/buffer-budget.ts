/**
 * The bytes every buffered request body holds together, against one cap
 * (`--request-buffer-total`). A body that cannot reserve its bytes is not
 * buffered: it streams instead, so the cap bounds memory without making
 * anyone wait.
 */
export class BufferBudget {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get used(): number {
    return this.#used;
  }

  /** Takes `n` bytes; false (and nothing taken) when that would pass the cap. */
  reserve(n: number): boolean {
    if (this.#used + n > this.limit) return false;
    this.#used += n;
    return true;
  }

  release(n: number): void {
    this.#used -= n;
    if (this.#used < 0) this.#used = 0;
  }
}
