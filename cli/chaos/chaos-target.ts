import type { Step } from './scenario.js';

/** What a step did. */
export interface Acted {
  /** The registry ids it is about, as the balancer names them: its backend, the replicas a scale adds or removes, none for Redis or the controller. */
  readonly ids: readonly string[];
  /**
   * When the fault took effect for each id (epoch ms), when the target knows it better than
   * "when the command was given": Docker's event for that container.
   */
  readonly effectiveAt?: ReadonlyMap<string, number>;
}

/** A backend after the run: whether its process or container serves. */
export interface ServingState {
  readonly id: string;
  /** Runs, is not paused, and has no fault left on that fails it. */
  readonly serving: boolean;
}

/**
 * Where a scenario's faults go: the local demo's processes (demo-target.ts)
 * or the running Compose stack's containers (compose-target.ts). The runner
 * sends load to `proxyUrl`, reads the balancer at `adminUrl`, and asks the
 * target to carry out each step.
 */
export interface ChaosTarget {
  readonly proxyUrl: string;
  readonly adminUrl: string;
  /** Headers for the admin API (its bearer token, when it has one). */
  readonly adminAuth: Readonly<Record<string, string>>;
  /** Ready for a run over `strategy`: the scenario's backends routable. */
  start(strategy: string): Promise<void>;
  /**
   * Carries out a step (what happens later, a flap's switches, is scheduled
   * with `later`); resolves with what it did (Acted).
   */
  act(step: Step, later: (ms: number, fn: () => Promise<void>) => void): Promise<Acted>;
  /** Every backend's state after the run. */
  serving(): Promise<ServingState[]>;
  close(): Promise<void>;
}

/** Whether a fault stops a backend from serving (a slow one still serves). */
export function failsBackend(f: { readonly unhealthy?: boolean; readonly hang?: boolean; readonly errorRate?: number }): boolean {
  return f.unhealthy === true || f.hang === true || (f.errorRate ?? 0) > 0;
}

/** A flap: unhealthy, then healthy, ... `times` switches `every` ms apart, ending healthy. */
export function scheduleFlap(step: Step, setUnhealthy: (unhealthy: boolean) => Promise<void>, later: (ms: number, fn: () => Promise<void>) => void): void {
  const times = step.times ?? 4;
  for (let k = 0; k < times; k++) later(k * step.every!, () => setUnhealthy(k % 2 === 0));
  if (times % 2 === 1) later(times * step.every!, () => setUnhealthy(false));
}
