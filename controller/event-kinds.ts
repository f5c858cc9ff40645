/**
 * What a container event means for the registry, as a pure function.
 *
 * - `register`: start, restart, unpause, health_status: healthy. The
 *   container may now be routable; the reconcile decides.
 * - `drain`: the stop signal (`kill` with SIGTERM, SIGINT, SIGQUIT or
 *   SIGKILL, and `stop`). Sent before the process exits, so the backend is
 *   marked draining while it still finishes its open requests.
 * - `deregister`: die, destroy, pause, oom, health_status: unhealthy.
 * - `ignore`: everything else (exec_*, attach, rename, kill with SIGHUP...).
 */
export type EventKind = 'register' | 'drain' | 'deregister' | 'ignore';

/** SIGINT, SIGQUIT, SIGKILL, SIGTERM: the signals `docker stop` and `docker kill` use to end a container. */
export const STOP_SIGNALS: ReadonlySet<number> = new Set([2, 3, 9, 15]);

/** The actions the controller subscribes to (the engine's event filter). */
export const WATCHED_ACTIONS = ['start', 'restart', 'unpause', 'health_status', 'kill', 'stop', 'die', 'destroy', 'pause', 'oom'] as const;

export function classifyEvent(action: string, signal?: number): EventKind {
  switch (action) {
    case 'start':
    case 'restart':
    case 'unpause':
    case 'health_status: healthy':
      return 'register';
    case 'kill':
      return signal !== undefined && STOP_SIGNALS.has(signal) ? 'drain' : 'ignore';
    case 'stop':
      return 'drain';
    case 'die':
    case 'destroy':
    case 'pause':
    case 'oom':
    case 'health_status: unhealthy':
      return 'deregister';
    default:
      return 'ignore';
  }
}
