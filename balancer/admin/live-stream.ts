import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventLog, LbEvent } from '../stats/event-log.js';

/**
 * Server-Sent Events for the dashboard: `stats` once per interval (one
 * snapshot serialised once for every client) and `log` as each event happens.
 * The timer runs only while someone listens.
 */
export class LiveStream {
  readonly #clients = new Set<ServerResponse>();
  readonly #snapshot: () => unknown;
  readonly #intervalMs: number;
  readonly #unsubscribe: () => void;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;

  readonly #collect: (() => Promise<void>) | undefined;

  constructor(snapshot: () => unknown, events: EventLog, intervalMs = 1000, collect?: () => Promise<void>) {
    this.#snapshot = snapshot;
    this.#collect = collect;
    this.#intervalMs = intervalMs;
    this.#unsubscribe = events.subscribe((e) => {
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

  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    res.write(`event: stats\ndata: ${JSON.stringify(this.#snapshot())}\n\n`);
    this.#clients.add(res);
    res.on('error', () => undefined);
    req.on('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stop();
    });
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  #tick(): void {
    if (this.#clients.size === 0) return;
    if (!this.#collect) {
      this.#send(`event: stats\ndata: ${JSON.stringify(this.#snapshot())}\n\n`);
      return;
    }
    this.#collect().then(
      () => this.#send(`event: stats\ndata: ${JSON.stringify(this.#snapshot())}\n\n`),
      () => undefined,
    );
  }

  #broadcast(event: string, data: LbEvent): void {
    if (this.#clients.size === 0) return;
    this.#send(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #send(frame: string): void {
    for (const res of this.#clients) res.write(frame);
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
