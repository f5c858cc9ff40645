import { createServer } from 'node:http';
import { HttpService } from '../common/http-service.js';
import { Supervisor } from '../common/lifecycle.js';
import { pino } from 'pino';
import { createLogger } from '../common/logger.js';
import { attachEchoSocket, BackendState, createBackendApp } from './app.js';
import { backendHelp, loadBackendConfig } from './config.js';
import { createControlApp } from './control-app.js';

/**
 * `switchyard backend`: the demo service. Traffic on --port, fault injection
 * on --control-port. SIGTERM fails /health, keeps answering for --drain-delay
 * (each answer closing its connection), finishes open requests, exits.
 */
export async function runBackend(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { config, help } = loadBackendConfig({ argv, env });
  if (help) {
    process.stdout.write(backendHelp());
    return;
  }
  // --log-requests: every line is written before the next request is served (a SIGKILL loses none).
  const destination = config.logRequests ? pino.destination({ fd: 1, sync: true }) : undefined;
  const logger = createLogger('backend', config.logLevel, destination, { backendId: config.id });
  const state = new BackendState(config.id, config.port, {
    latencyMs: config.latency,
    errorRate: config.errorRate,
    errorStatus: config.errorStatus,
    unhealthy: config.unhealthy,
    hang: config.hang,
  });
  const server = createServer({ keepAliveTimeout: 5000 });
  const app = createBackendApp(state, Math.random, config.logRequests ? (r) => logger.info(r, 'request') : undefined);
  server.on('request', app);
  const wss = attachEchoSocket(server, state);
  const drainDelay = Math.min(config.drainDelay, config.shutdownTimeout);
  const http = new HttpService('http', app, { port: config.port, host: config.host, graceMs: config.shutdownTimeout - drainDelay, server });
  const control = new HttpService('control', createControlApp(state, logger), { port: config.controlPort, host: config.controlHost, graceMs: 1000 });
  const supervisor = new Supervisor(logger, config.shutdownTimeout + 2000);
  // Closed after the traffic port (reverse order), so faults can be cleared while requests drain.
  supervisor.add(control);
  supervisor.add({
    name: 'http',
    start: () => http.start(),
    close: async () => {
      state.shuttingDown = true;
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      // Still serving (each answer closes its connection) while balancers notice /health failing.
      if (drainDelay > 0) await new Promise((resolve) => setTimeout(resolve, drainDelay));
      await http.close();
    },
  });
  supervisor.handleSignals((code) => {
    logger.flush();
    process.exit(code);
  });
  await supervisor.start();
  state.port = http.address.port;
  logger.info(
    { port: http.address.port, host: config.host, controlPort: control.address.port, controlHost: config.controlHost, faults: state.faults },
    'backend listening',
  );
}
