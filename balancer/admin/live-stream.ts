import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../common/logger.js';
import type { EventLog, LbEvent } from '../stats/event-log.js';

/** Defaults of the stream's limits, shared with the balancer's options (--admin-max-streams and friends). */
export const STREAM_DEFAULTS = { maxClients: 64, maxBacklogBytes: 256 * 1024, intervalMs: 1000 } as const;

export interface LiveStreamOptions {
  readonly snapshot: () => unknown;
  readonly events: EventLog;
  /** Refreshes the snapshot's data first (a cluster primary asks its workers). */
  readonly collect?: () => Promise<void>;
  readonly intervalMs?: number;
  /** Most clients at once; the next one gets 503. */
  readonly maxClients?: number;
  /** A client whose unsent bytes pass this is cut before the next frame. */
  readonly maxBacklogBytes?: number;
  readonly logger?: Logger;
}

/**
 * Server-Sent Events for the dashboard: `stats` once per interval (one
 * snapshot serialised once for every client) and `log` as each event happens.
 * The timer runs only while someone listens. Bounded: at most `maxClients`
 * streams, and a client that does not read is dropped once what it has not
 * taken passes `maxBacklogBytes`, so a stalled reader costs at most that much
 * memory, however long it stays.
 */
export class LiveStream {
  readonly #clients = new Set<ServerResponse>();
  readonly #opts: LiveStreamOptions;
  readonly #intervalMs: number;
  readonly #maxClients: number;
  readonly #maxBacklog: number;
  readonly #unsubscribe: () => void;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #refused = 0;
  #dropped = 0;

  constructor(opts: LiveStreamOptions) {
    this.#opts = opts;
    this.#intervalMs = opts.intervalMs ?? STREAM_DEFAULTS.intervalMs;
    this.#maxClients = opts.maxClients ?? STREAM_DEFAULTS.maxClients;
    this.#maxBacklog = opts.maxBacklogBytes ?? STREAM_DEFAULTS.maxBacklogBytes;
    this.#unsubscribe = opts.events.subscribe((e) => {
      this.#broadcast('log', e);
      // A change of state should not wait for the next tick: push a snapshot shortly after.
      if (this.#clients.size > 0 && !this.#soon) {
        this.#soon = setTimeout(() => {
          this.#soon = undefined;
          this.#tick();
        }, 50);
        this.#soon.unref();
      }
    });
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Streams refused because `maxClients` were open. */
  get refused(): number {
    return this.#refused;
  }

  /** Streams cut because their client did not read. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bytes written to the open streams that their clients have not taken yet: the memory the streams hold. */
  get bufferedBytes(): number {
    let sum = 0;
    for (const res of this.#clients) sum += res.writableLength;
    return sum;
  }

  /** Starts a stream on `res`; false, with nothing written, when `maxClients` are open (the caller answers 503). */
  attach(_req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#clients.size >= this.#maxClients) {
      this.#refused++;
      return false;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    res.write(`event: stats\ndata: ${JSON.stringify(this.#opts.snapshot())}\n\n`);
    this.#clients.add(res);
    res.on('error', () => undefined);
    res.on('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stop();
    });
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
      this.#timer.unref();
    }
    return true;
  }

  #tick(): void {
    if (this.#clients.size === 0) return;
    if (!this.#opts.collect) {
      this.#send(`event: stats\ndata: ${JSON.stringify(this.#opts.snapshot())}\n\n`);
      return;
    }
    this.#opts.collect().then(
      () => this.#send(`event: stats\ndata: ${JSON.stringify(this.#opts.snapshot())}\n\n`),
      () => undefined,
    );
  }

  #broadcast(event: string, data: LbEvent): void {
    if (this.#clients.size === 0) return;
    this.#send(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #send(frame: string): void {
    const chunk = Buffer.from(frame);
    for (const res of this.#clients) {
      // writableLength: bytes queued in the response and its socket, not yet taken by the kernel.
      const backlog = res.writableLength;
      if (backlog > this.#maxBacklog) {
        this.#drop(res, backlog);
        continue;
      }
      res.write(chunk);
    }
  }

  #drop(res: ServerResponse, backlog: number): void {
    this.#clients.delete(res);
    this.#dropped++;
    this.#opts.logger?.warn(
      { remoteAddress: res.socket?.remoteAddress, remotePort: res.socket?.remotePort, backlogBytes: backlog, limitBytes: this.#maxBacklog },
      'event stream client dropped: it does not read',
    );
    res.destroy();
    if (this.#clients.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#soon) clearTimeout(this.#soon);
    this.#timer = undefined;
    this.#soon = undefined;
  }

  close(): void {
    this.#stop();
    this.#unsubscribe();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}
