import type { Logger } from '../common/logger.js';
import type { NamedPart } from '../common/lifecycle.js';
import { RedisEventFeed } from '../common/registry/redis-events.js';
import { RedisLoadBoard, type BackendLoad } from '../common/registry/redis-load-board.js';
import type { RedisTarget } from '../common/registry/redis-connection.js';
import type { BalancerView } from './balancer-view.js';

export interface LoadReporterOptions {
  readonly view: BalancerView;
  readonly target: RedisTarget;
  readonly prefix: string;
  readonly instanceId: string;
  readonly intervalMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * Tells the registry's Redis, every interval, how much load this balancer
 * sends each backend (requests open now, and requests per second since the
 * last report), for the controller's autoscaler to add up over every
 * balancer. A report that fails is skipped; the board forgets a balancer
 * that stops reporting.
 */
export function loadReporterPart(opts: LoadReporterOptions): NamedPart {
  const board = new RedisLoadBoard({ target: opts.target, prefix: opts.prefix, ttlMs: Math.max(3 * opts.intervalMs, 3000) });
  const now = opts.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let last = new Map<string, number>();
  let lastAt = now();
  let failing = false;
  let closed = false;
  const report = async (): Promise<void> => {
    await opts.view.collect?.();
    const at = now();
    const seconds = Math.max(0.001, (at - lastAt) / 1000);
    const loads = new Map<string, BackendLoad>();
    const counts = new Map<string, number>();
    for (const u of opts.view.upstreams.all) {
      counts.set(u.id, u.requests);
      const before = last.get(u.id) ?? u.requests;
      loads.set(u.id, { inflight: u.inFlight, rps: Math.max(0, u.requests - before) / seconds });
    }
    last = counts;
    lastAt = at;
    try {
      await board.publish(opts.instanceId, loads);
      if (failing) opts.logger.info('load reports to Redis resumed');
      failing = false;
    } catch (err) {
      if (!failing) opts.logger.warn({ error: (err as Error).message }, 'load report to Redis failed, retrying each interval');
      failing = true;
    }
  };
  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => void report().finally(schedule), opts.intervalMs);
    timer.unref();
  };
  return {
    name: 'load-reporter',
    start: async () => {
      await board.start();
      schedule();
    },
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      await board.close();
    },
  };
}

/** Shows what the controller announces through Redis (a service scaled, and why) in this balancer's event log. */
export function eventFeedPart(view: BalancerView, target: RedisTarget, prefix: string): NamedPart {
  const feed = new RedisEventFeed(target, prefix, (e) => view.events.add('scaled', undefined, `${e.service}: ${e.from} → ${e.to} replicas; ${e.reason}`));
  return { name: 'event-feed', start: () => feed.start(), close: () => feed.close() };
}
