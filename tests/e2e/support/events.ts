import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { docker, E2E, ensureStack, redisClient, waitFor } from './stack.js';

export interface SeenEvent {
  readonly action: string;
  readonly id: string;
  readonly name: string;
  readonly signal?: string;
  /** Engine time, epoch ms. */
  readonly at: number;
}

/** The engine's container events for the e2e project, as they happen. */
export class DockerEventLog {
  readonly events: SeenEvent[] = [];
  #stream: NodeJS.ReadableStream | undefined;

  static async start(): Promise<DockerEventLog> {
    const log = new DockerEventLog();
    const stream = await docker.getEvents({ filters: { type: ['container'], label: [`com.docker.compose.project=${E2E.project}`] } });
    log.#stream = stream;
    let buf = '';
    stream.on('error', () => undefined);
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const m = JSON.parse(line) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number };
          log.events.push({ action: m.Action, id: m.Actor.ID, name: m.Actor.Attributes.name ?? '', signal: m.Actor.Attributes.signal, at: m.timeNano / 1e6 });
        } catch {
          // partial or foreign line
        }
      }
    });
    return log;
  }

  find(action: string, id: string): SeenEvent | undefined {
    return this.events.find((e) => e.action === action && e.id === id);
  }

  wait(action: string, id: string, timeoutMs = 30_000): Promise<SeenEvent> {
    return waitFor(`docker event '${action}' of ${id.slice(0, 12)}`, () => this.find(action, id), timeoutMs, 10);
  }

  close(): void {
    const s = this.#stream as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    s?.destroy?.();
  }
}

export interface RegistryChange {
  readonly op: string;
  readonly id: string;
  readonly version: number;
  /** When the writer made the change, epoch ms. */
  readonly at: number;
}

/** The registry's change channel (pub/sub), as the balancers hear it. */
export class RegistryFeed {
  readonly changes: RegistryChange[] = [];
  readonly #sub: Redis;

  private constructor(sub: Redis) {
    this.#sub = sub;
  }

  static async start(redis: Redis): Promise<RegistryFeed> {
    const sub = redis.duplicate();
    sub.on('error', () => undefined);
    const feed = new RegistryFeed(sub);
    sub.on('message', (_ch: string, text: string) => {
      try {
        feed.changes.push(JSON.parse(text) as RegistryChange);
      } catch {
        // not ours
      }
    });
    await sub.subscribe(`${E2E.prefix}changes`);
    return feed;
  }

  find(op: string, id: string, after = 0): RegistryChange | undefined {
    return this.changes.find((c) => c.op === op && c.id === id && c.at >= after);
  }

  wait(op: string, id: string, after: number, timeoutMs = 10_000): Promise<RegistryChange> {
    return waitFor(`registry ${op} of ${id}`, () => this.find(op, id, after), timeoutMs, 5);
  }

  close(): void {
    this.#sub.disconnect();
  }
}

/** What a failure test watches while it acts on the stack. */
export interface StackWatch {
  /** Docker's container events, from before the test acted. */
  readonly events: DockerEventLog;
  /** The registry's changes as Redis publishes them. */
  readonly feed: RegistryFeed;
  /** A Redis client on the stack's registry. */
  readonly redis: Redis;
}

/**
 * The setup every failure test shares (docker stop, kill, pause): inside a
 * `describe`, registers hooks that bring the stack up with `backends`
 * replicas and start watching Docker's events and the registry's changes
 * before the tests, and stop watching after them.
 */
export function watchStack(backends: number): StackWatch {
  const w: { events?: DockerEventLog; feed?: RegistryFeed; redis?: Redis } = {};
  before(async () => {
    await ensureStack(backends);
    w.events = await DockerEventLog.start();
    w.redis = await redisClient();
    w.feed = await RegistryFeed.start(w.redis);
  });
  after(() => {
    w.events?.close();
    w.feed?.close();
    w.redis?.disconnect();
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not watched yet: use it inside a test`);
    return v;
  };
  return {
    get events() {
      return need(w.events, 'Docker events');
    },
    get feed() {
      return need(w.feed, 'the registry feed');
    },
    get redis() {
      return need(w.redis, 'Redis');
    },
  };
}
