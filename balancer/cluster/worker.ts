import { Supervisor } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import { Balancer } from '../balancer.js';
import type { BalancerConfig } from '../config.js';
import { edgePart, proxyPart, startUntilSignal } from '../lifecycle-parts.js';
import { toSettings } from '../balancer-settings.js';
import type { LbEventType } from '../stats/event-log.js';
import { strategyFactory } from '../routing-settings.js';
import { IpcRegistry } from './ipc-registry.js';
import { isMessage, type ToPrimary, type ToWorker } from './messages.js';
import { RemoteHealth } from './remote-health.js';
import { workerStats } from './worker-stats.js';
import { configuredAddresses } from '../self-addresses.js';

/** Events only a worker sees (its own traffic judges backends); the primary logs the rest itself. */
const FORWARDED: ReadonlySet<LbEventType> = new Set(['ejected', 'returned', 'breaker-opened', 'breaker-half-open', 'breaker-closed']);

/**
 * One worker of `switchyard balancer --workers N`: the proxy alone. The
 * registry snapshots, health states and strategy switches come from the
 * primary; stats go back when it asks.
 */
export async function runWorker(config: BalancerConfig, workers: number, workerId: number, logger: Logger): Promise<void> {
  const send = (m: ToPrimary): void => {
    if (process.connected) process.send!(m, undefined, undefined, () => undefined);
  };
  const registry = new IpcRegistry();
  let remote: RemoteHealth | undefined;
  const makeStrategy = strategyFactory(config);
  const lb = new Balancer({
    settings: toSettings(config, workers),
    registry,
    strategy: makeStrategy(config.strategy, undefined),
    logger,
    self: configuredAddresses(config),
    healthChecker: (sink) => (remote = new RemoteHealth(sink, (id) => send({ swy: 1, t: 'hint', id }))),
  });
  lb.events.subscribe((e) => {
    if (FORWARDED.has(e.type)) send({ swy: 1, t: 'event', type: e.type, backendId: e.backendId, detail: `${e.detail ?? ''} (worker ${workerId})`.trim() });
  });
  let gotSnapshot: () => void = () => undefined;
  let gotHealth: () => void = () => undefined;
  const firstSnapshot = new Promise<void>((resolve) => (gotSnapshot = resolve));
  const firstHealth = new Promise<void>((resolve) => (gotHealth = resolve));
  process.on('message', (m: unknown) => {
    if (!isMessage<ToWorker>(m)) return;
    switch (m.t) {
      case 'snapshot':
        registry.receive(m.snapshot, m.status);
        remote?.retain(m.snapshot.backends);
        gotSnapshot();
        break;
      case 'health':
        remote?.receive(m.states);
        gotHealth();
        break;
      case 'strategy':
        try {
          lb.setStrategy(makeStrategy(m.name, m.options));
        } catch (err) {
          logger.error({ err, strategy: m.name }, 'strategy switch failed');
        }
        break;
      case 'collect':
        send({ swy: 1, t: 'stats', seq: m.seq, stats: workerStats(lb) });
        break;
    }
  });
  const supervisor = new Supervisor(logger, config.shutdownTimeout + 5000);
  // The primary stops us with SIGTERM; a lost channel means it died: drain and go.
  process.on('disconnect', () => void supervisor.stop().then(() => process.exit(0)));
  send({ swy: 1, t: 'hello' });
  // The primary answers hello with the registry and the health it has checked (its warm start): listen with both.
  await Promise.race([Promise.all([firstSnapshot, firstHealth]), new Promise((r) => setTimeout(r, 5000))]);

  const edge = edgePart(lb, config, logger);
  if (edge !== undefined) supervisor.add(edge);
  supervisor.add(proxyPart(lb, config, logger));
  await startUntilSignal(supervisor, logger);
  send({ swy: 1, t: 'ready' });
  logger.info({ worker: workerId, port: config.port }, 'worker listening');
}
