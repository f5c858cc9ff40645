import * as hdr from 'hdr-histogram-js';

/** Label counted for responses that carry no X-Backend header. */
export const NO_BACKEND = '(none)';

/** Resolution of the recorded timeline; reports merge it into coarser intervals. */
export const TIMELINE_RESOLUTION_MS = 100;

/** Largest latency the histogram tracks, in microseconds (1 hour); larger values are clamped. */
const MAX_LATENCY_US = 3_600_000_000;

export function createLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_LATENCY_US,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

/**
 * Everything a load run counts, fed one event at a time. No clock and no I/O:
 * the caller passes each event's time in milliseconds since the start, so
 * tests can replay exact sequences.
 */
export class LoadRecorder {
  readonly latencyUs = createLatencyHistogram();
  readonly statusCodes = new Map<number, number>();
  readonly byBackend = new Map<string, number>();
  /** timeline[i] counts responses per backend in [i*100ms, (i+1)*100ms). */
  readonly timeline: Map<string, number>[] = [];
  completed = 0;
  bytes = 0;
  timeouts = 0;
  connectionErrors = 0;

  /** A complete response: status, body bytes, latency in ms, X-Backend value (or undefined), time since start in ms. */
  response(status: number, bytes: number, latencyMs: number, backend: string | undefined, atMs: number): void {
    this.completed++;
    this.bytes += bytes;
    this.latencyUs.recordValue(Math.min(MAX_LATENCY_US, Math.max(1, Math.round(latencyMs * 1000))));
    this.statusCodes.set(status, (this.statusCodes.get(status) ?? 0) + 1);
    const id = backend ?? NO_BACKEND;
    this.byBackend.set(id, (this.byBackend.get(id) ?? 0) + 1);
    const slot = Math.max(0, Math.floor(atMs / TIMELINE_RESOLUTION_MS));
    while (this.timeline.length <= slot) this.timeline.push(new Map());
    const bucket = this.timeline[slot]!;
    bucket.set(id, (bucket.get(id) ?? 0) + 1);
  }

  timeout(): void {
    this.timeouts++;
  }

  connectionError(): void {
    this.connectionErrors++;
  }

  get errors(): number {
    return this.timeouts + this.connectionErrors;
  }

  close(): void {
    this.latencyUs.destroy();
  }
}

/** Finds the X-Backend value in a raw header list [name, value, name, value, ...]. */
export function backendFromRawHeaders(raw: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 9 && name.toLowerCase() === 'x-backend') return raw[i + 1];
  }
  return undefined;
}
