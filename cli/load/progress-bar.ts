import { bar, formatCount } from './bar-chart.js';

export interface ProgressState {
  /** 0..1 of the run done (by requests or by time). */
  readonly fraction: number;
  readonly completed: number;
  readonly errors: number;
  readonly elapsedMs: number;
}

/** One line of progress, e.g. `[████▌      ]  45%  2,250 done  4,500 req/s  0 errors`. */
export function renderProgress(s: ProgressState, width = 30): string {
  const f = Math.max(0, Math.min(1, s.fraction));
  const rate = s.elapsedMs > 0 ? (s.completed / s.elapsedMs) * 1000 : 0;
  return `[${bar(f, 1, width).padEnd(width)}] ${String(Math.floor(f * 100)).padStart(3)}%  ${formatCount(s.completed)} done  ${formatCount(rate)} req/s  ${formatCount(s.errors)} errors`;
}

/** Redraws one progress line on a terminal stream; `done()` erases it. */
export class ProgressLine {
  readonly #out: NodeJS.WriteStream;
  #drawn = false;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }

  draw(text: string): void {
    this.#out.write(`\r\x1b[2K${text}`);
    this.#drawn = true;
  }

  done(): void {
    if (this.#drawn) this.#out.write('\r\x1b[2K');
    this.#drawn = false;
  }
}
