/** Clock and one-shot timers, injectable so tests drive time by hand. */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; timers are unref'd so a waiting queue never keeps the process alive. */
export const systemScheduler: Scheduler = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle: unknown): void => clearTimeout(handle as NodeJS.Timeout),
});
