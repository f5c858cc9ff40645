import type { Upstream } from '../upstream.js';
import type { AccessEntry, ForwardHost } from './forwarder.js';

/** What the access log reads of a finished request, whatever the engine. */
export interface RequestFacts {
  readonly requestId: string;
  readonly path: string;
  readonly clientIp: string;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  readonly attempts: number;
}

/**
 * One sampled line of the access log (`--access-log`) for a request that
 * ended: `status` 499 when the client left first, `error` the code or reason
 * when it did not end with a backend's response. Nothing is built when the
 * log is off or the line is not sampled.
 */
export function logRequest(host: ForwardHost, r: RequestFacts, method: string, status: number, backend: Upstream | undefined, error?: string): void {
  const log = host.accessLog;
  if (log === null || (host.accessLogSample < 1 && Math.random() >= host.accessLogSample)) return;
  const entry: AccessEntry = {
    requestId: r.requestId,
    method,
    path: r.path,
    status,
    backend: backend?.id,
    attempts: r.attempts,
    durationMs: Math.round((performance.now() - r.startedAt) * 100) / 100,
    clientIp: r.clientIp,
    ...(error ? { error } : {}),
  };
  log.info(entry, 'request');
}
