import type Dockerode from 'dockerode';
import type { Logger } from '../common/logger.js';
import type { ContainerEvent, ContainerFacts, ContainerHealth, ContainerSource, ContainerSourceListener } from './container-source.js';
import { WATCHED_ACTIONS } from './event-kinds.js';
import { COMPOSE_PROJECT_LABEL } from './to-backends.js';

export interface DockerSourceOptions {
  readonly docker: Dockerode;
  readonly labelPrefix: string;
  readonly project?: string;
  readonly logger: Logger;
  /** Time allowed for one list or inspect call. */
  readonly requestTimeoutMs?: number;
  /** Delay before the n-th reconnect of the event stream (n from 1). */
  readonly backoff?: (attempt: number) => number;
  readonly now?: () => number;
}

/** Capped, jittered exponential backoff: 250 ms doubling to 10 s. */
export function eventStreamBackoff(attempt: number): number {
  const base = Math.min(10_000, 250 * 2 ** Math.min(attempt - 1, 6));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** A stream up at least this long counts as healthy: the next break starts the backoff over. */
const STABLE_STREAM_MS = 5000;

/**
 * The only Docker I/O of the controller: lists (and inspects) the labelled
 * containers, and follows the engine's event stream, reconnecting with
 * capped backoff when it breaks. Every emitter it creates has an 'error'
 * listener.
 */
export class DockerSource implements ContainerSource {
  readonly #opts: DockerSourceOptions;
  readonly #docker: Dockerode;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #backoff: (attempt: number) => number;
  #listener: ContainerSourceListener | undefined;
  #stream: NodeJS.ReadableStream | undefined;
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #connectedAt = 0;
  #closed = false;
  #everConnected = false;

  constructor(opts: DockerSourceOptions) {
    this.#opts = opts;
    this.#docker = opts.docker;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#backoff = opts.backoff ?? eventStreamBackoff;
  }

  watch(listener: ContainerSourceListener): void {
    this.#listener = listener;
  }

  /** Opens the event stream in the background; an engine that is down is retried, not fatal. */
  async start(): Promise<void> {
    this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#dropStream();
  }

  #labelFilters(): string[] {
    const f = [`${this.#opts.labelPrefix}.enable`];
    if (this.#opts.project !== undefined) f.push(`${COMPOSE_PROJECT_LABEL}=${this.#opts.project}`);
    return f;
  }

  async list(): Promise<ContainerFacts[]> {
    const timeout = this.#opts.requestTimeoutMs ?? 5000;
    const infos = await this.#docker.listContainers({ all: true, filters: { label: this.#labelFilters() }, abortSignal: AbortSignal.timeout(timeout) });
    const facts = await Promise.all(
      infos.map(async (info): Promise<ContainerFacts | undefined> => {
        // Only a live container can be a backend; the rest need no inspect.
        if (info.State !== 'running' && info.State !== 'paused') return fromListing(info);
        try {
          return fromInspect(await this.#docker.getContainer(info.Id).inspect({ abortSignal: AbortSignal.timeout(timeout) }));
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode === 404) return undefined; // removed meanwhile
          throw err;
        }
      }),
    );
    return facts.filter((f): f is ContainerFacts => f !== undefined);
  }

  #connect(): void {
    if (this.#closed) return;
    this.#timer = undefined;
    const filters = { type: ['container' as const], label: this.#labelFilters(), event: [...WATCHED_ACTIONS] };
    this.#docker.getEvents({ filters }).then(
      (stream) => this.#onStream(stream),
      (err: unknown) => this.#onBroken(err as Error),
    );
  }

  #onStream(stream: NodeJS.ReadableStream): void {
    if (this.#closed) {
      destroy(stream);
      return;
    }
    this.#stream = stream;
    this.#connectedAt = this.#now();
    let buffered = '';
    let ended = false;
    const end = (err?: Error): void => {
      if (ended) return;
      ended = true;
      if (this.#stream === stream) this.#stream = undefined;
      this.#onBroken(err);
    };
    stream.on('error', (err: Error) => end(err));
    stream.on('end', () => end());
    stream.on('close', () => end());
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) this.#onLine(line);
      }
    });
    if (this.#everConnected) this.#log.info({ attempts: this.#attempt }, 'docker event stream reconnected');
    else this.#log.info({ filters: this.#labelFilters() }, 'docker event stream connected');
    this.#everConnected = true;
    this.#listener?.connected();
  }

  #onLine(line: string): void {
    let raw: DockerEventMessage;
    try {
      raw = JSON.parse(line) as DockerEventMessage;
    } catch {
      this.#log.warn({ line: line.slice(0, 200) }, 'unreadable docker event');
      return;
    }
    const e = toContainerEvent(raw);
    if (e) this.#listener?.event(e);
  }

  #onBroken(err: Error | undefined): void {
    if (this.#closed) return;
    // Only a stream that stayed up a while starts the backoff over; a failed attempt never does.
    if (this.#connectedAt > 0 && this.#now() - this.#connectedAt >= STABLE_STREAM_MS) this.#attempt = 0;
    this.#connectedAt = 0;
    this.#attempt++;
    const delay = this.#backoff(this.#attempt);
    const fields = { error: err?.message, code: (err as { code?: string } | undefined)?.code, retryInMs: delay, attempt: this.#attempt };
    if (this.#attempt === 1) this.#log.warn(fields, 'docker event stream lost, reconnecting');
    else this.#log.debug(fields, 'docker event stream reconnect failed');
    this.#listener?.disconnected(err);
    this.#timer = setTimeout(() => this.#connect(), delay);
    this.#timer.unref();
  }

  #dropStream(): void {
    const s = this.#stream;
    this.#stream = undefined;
    if (s) destroy(s);
  }
}

interface DockerEventMessage {
  readonly Type?: string;
  readonly Action?: string;
  readonly status?: string;
  readonly id?: string;
  readonly Actor?: { readonly ID?: string; readonly Attributes?: Readonly<Record<string, string>> };
  readonly time?: number;
  readonly timeNano?: number;
}

/** One engine event message into a ContainerEvent; undefined for anything that is not a container event. */
export function toContainerEvent(m: DockerEventMessage): ContainerEvent | undefined {
  if (m.Type !== undefined && m.Type !== 'container') return undefined;
  const action = m.Action ?? m.status;
  const id = m.Actor?.ID ?? m.id;
  if (!action || !id) return undefined;
  const attrs = m.Actor?.Attributes ?? {};
  const signal = attrs.signal !== undefined && /^\d+$/.test(attrs.signal) ? Number(attrs.signal) : undefined;
  const at = m.timeNano !== undefined ? Math.floor(m.timeNano / 1e6) : (m.time ?? 0) * 1000;
  return { action, containerId: id, name: attrs.name ?? '', signal, at };
}

function healthOf(status: string | undefined): ContainerHealth {
  return status === 'starting' || status === 'healthy' || status === 'unhealthy' ? status : 'none';
}

function parseTime(iso: string | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) && t > 0 ? t : 0;
}

export function fromInspect(i: Dockerode.ContainerInspectInfo): ContainerFacts {
  const networks: Record<string, { ip: string }> = {};
  for (const [name, n] of Object.entries(i.NetworkSettings?.Networks ?? {})) networks[name] = { ip: n.IPAddress ?? '' };
  return {
    id: i.Id,
    name: i.Name.replace(/^\//, ''),
    state: i.State.Status,
    health: healthOf(i.State.Health?.Status),
    startedAt: parseTime(i.State.StartedAt),
    labels: i.Config.Labels ?? {},
    networks,
  };
}

function fromListing(c: Dockerode.ContainerInfo): ContainerFacts {
  const networks: Record<string, { ip: string }> = {};
  for (const [name, n] of Object.entries(c.NetworkSettings?.Networks ?? {})) networks[name] = { ip: n.IPAddress ?? '' };
  return { id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, ''), state: c.State, health: 'none', startedAt: 0, labels: c.Labels ?? {}, networks };
}

function destroy(stream: NodeJS.ReadableStream): void {
  const s = stream as NodeJS.ReadableStream & { destroy?: () => void };
  stream.on('error', () => undefined);
  s.destroy?.();
}
