import type { Redis } from 'ioredis';
import type { Lifecycle } from '../lifecycle.js';
import { closeClient, startQuietClient, startSubscriber, type RedisTarget } from './redis-connection.js';

/** Something the controller did that every balancer's dashboard shows: a service scaled. */
export interface ScaledEvent {
  readonly kind: 'scaled';
  readonly service: string;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
  /** When the controller decided (ms since the epoch). */
  readonly at: number;
}

/** The pub/sub channel of these announcements, beside the registry's own. */
export function eventsChannel(prefix: string): string {
  return `${prefix}events`;
}

/** A message from the channel, checked field by field (any Redis client could publish one); undefined when it is not an event. */
export function parseScaledEvent(message: string): ScaledEvent | undefined {
  if (message.length > 4096) return undefined;
  let m: unknown;
  try {
    m = JSON.parse(message);
  } catch {
    return undefined;
  }
  const o = m as Partial<Record<keyof ScaledEvent, unknown>> | null;
  if (o === null || typeof o !== 'object' || o.kind !== 'scaled') return undefined;
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 100_000;
  if (typeof o.service !== 'string' || o.service.length === 0 || o.service.length > 256) return undefined;
  if (!count(o.from) || !count(o.to) || typeof o.reason !== 'string' || typeof o.at !== 'number' || !Number.isFinite(o.at)) return undefined;
  return { kind: 'scaled', service: o.service, from: o.from, to: o.to, reason: o.reason.slice(0, 512), at: o.at };
}

/** Announces events on the channel (the controller). A lost announcement is only a missing line in a dashboard. */
export class RedisEventPublisher implements Lifecycle {
  readonly #target: RedisTarget;
  readonly #channel: string;
  #client: Redis | undefined;

  constructor(target: RedisTarget, prefix: string) {
    this.#target = target;
    this.#channel = eventsChannel(prefix);
  }

  async start(): Promise<void> {
    this.#client = await startQuietClient(this.#target, 'switchyard-events');
  }

  close(): Promise<void> {
    return closeClient(this.#client);
  }

  async publish(e: ScaledEvent): Promise<void> {
    const c = this.#client;
    if (!c || c.status !== 'ready') return;
    await c.publish(this.#channel, JSON.stringify(e));
  }
}

/** Follows the channel (every balancer) and hands each well-formed event on. */
export class RedisEventFeed implements Lifecycle {
  readonly #target: RedisTarget;
  readonly #channel: string;
  readonly #onEvent: (e: ScaledEvent) => void;
  #sub: Redis | undefined;

  constructor(target: RedisTarget, prefix: string, onEvent: (e: ScaledEvent) => void) {
    this.#target = target;
    this.#channel = eventsChannel(prefix);
    this.#onEvent = onEvent;
  }

  async start(): Promise<void> {
    this.#sub = await startSubscriber(this.#target, 'switchyard-events-sub', this.#channel, (message) => {
      const e = parseScaledEvent(message);
      if (e) this.#onEvent(e);
    });
  }

  close(): Promise<void> {
    return closeClient(this.#sub);
  }
}
