import { hostname } from 'node:os';
import { ConfigError, loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../common/config/options.js';
import { boolean, decimal, duration, integer, oneOf, port, text } from '../common/config/values.js';
import { LOG_LEVELS } from '../common/logger.js';

/** How far the default control port sits from the traffic port. */
export const CONTROL_PORT_OFFSET = 10_000;

const FAULTS_GROUP = 'Failure injection (also POST /fault on the control port at run time)';

export const BACKEND_OPTIONS = {
  port: option({
    type: port(),
    flag: 'port',
    env: ['SWITCHYARD_BACKEND_PORT', 'PORT'],
    default: 8081,
    help: 'Port the backend serves traffic on (the port to register with a balancer).',
  }),
  host: option({ type: text({ min: 1 }), flag: 'host', env: ['SWITCHYARD_BACKEND_HOST'], default: '0.0.0.0', help: 'Address the backend serves traffic on.' }),
  id: option({
    type: text({ min: 1, max: 128 }),
    flag: 'id',
    env: ['SWITCHYARD_BACKEND_ID'],
    help: 'Name this backend reports in every answer (default: hostname:port).',
  }),
  controlPort: option({
    type: port(),
    flag: 'control-port',
    env: ['SWITCHYARD_CONTROL_PORT'],
    help: `Port of the control listener, the only one that serves /fault (default: --port + ${CONTROL_PORT_OFFSET}, e.g. 8081 -> 18081, so backends on consecutive ports get consecutive control ports; --port - ${CONTROL_PORT_OFFSET} above ${65_535 - CONTROL_PORT_OFFSET}; a free port when --port is 0).`,
    group: 'Control listener',
  }),
  controlHost: option({
    type: text({ min: 1 }),
    flag: 'control-host',
    env: ['SWITCHYARD_CONTROL_HOST'],
    default: '127.0.0.1',
    help: 'Address the control listener binds to. Whoever reaches it can make this backend fail: keep it on loopback (in a container, reach it with docker exec: make fault).',
    group: 'Control listener',
  }),
  latency: option({
    type: duration(0, 600_000),
    flag: 'latency',
    env: ['SWITCHYARD_FAULT_LATENCY'],
    default: 0,
    help: 'Injected delay before every answer except /health.',
    group: FAULTS_GROUP,
  }),
  errorRate: option({
    type: decimal(0, 1),
    flag: 'error-rate',
    env: ['SWITCHYARD_FAULT_ERROR_RATE'],
    default: 0,
    help: 'Share of requests answered with --error-status.',
    group: FAULTS_GROUP,
  }),
  errorStatus: option({
    type: integer(400, 599),
    flag: 'error-status',
    env: ['SWITCHYARD_FAULT_ERROR_STATUS'],
    default: 500,
    help: 'Status of injected errors.',
    group: FAULTS_GROUP,
  }),
  unhealthy: option({
    type: boolean(),
    flag: 'unhealthy',
    env: ['SWITCHYARD_FAULT_UNHEALTHY'],
    default: false,
    help: 'Answer /health with 503 while serving everything else.',
    group: FAULTS_GROUP,
  }),
  hang: option({
    type: boolean(),
    flag: 'hang',
    env: ['SWITCHYARD_FAULT_HANG'],
    default: false,
    help: 'Accept requests on the traffic port and never answer them (the control port still answers).',
    group: FAULTS_GROUP,
  }),
  shutdownTimeout: option({
    type: duration(0, 600_000),
    flag: 'shutdown-timeout',
    env: ['SWITCHYARD_SHUTDOWN_TIMEOUT'],
    default: 10_000,
    help: 'On SIGTERM, how long open requests may take to finish (--drain-delay included).',
  }),
  drainDelay: option({
    type: duration(0, 60_000),
    flag: 'drain-delay',
    env: ['SWITCHYARD_DRAIN_DELAY'],
    default: 1000,
    help: 'On SIGTERM, keep serving this long before closing idle keep-alive connections: /health fails and every answer says Connection: close, so a balancer that has not yet seen the backend leave gets answers rather than a connection closed under its request (a POST it must not resend). 0: close them at once.',
  }),
  logRequests: option({
    type: boolean(),
    flag: 'log-requests',
    env: ['SWITCHYARD_BACKEND_LOG_REQUESTS'],
    default: false,
    help: 'Log one line per request on the traffic port as it arrives (its X-Request-Id, method and path; /health excepted), written at once so a killed backend loses none: the record `switchyard chaos` checks against.',
  }),
  logLevel: option({ type: oneOf(LOG_LEVELS), flag: 'log-level', env: ['SWITCHYARD_LOG_LEVEL', 'LOG_LEVEL'], default: 'info', help: 'Log level.' }),
} as const;

export interface BackendConfig extends OptionValues<typeof BACKEND_OPTIONS> {
  readonly id: string;
  readonly controlPort: number;
}

/**
 * The control port a backend takes when none is given: a fixed distance from
 * its traffic port, so a row of backends on 8081, 8082, ... gets 18081,
 * 18082, ... and none of them collides with another or with the balancer's
 * 9090/9091. Port 0 (a free port) gets a free port too.
 */
export function defaultControlPort(trafficPort: number): number {
  if (trafficPort === 0) return 0;
  return trafficPort + CONTROL_PORT_OFFSET <= 65_535 ? trafficPort + CONTROL_PORT_OFFSET : trafficPort - CONTROL_PORT_OFFSET;
}

export function backendHelp(): string {
  return renderHelp(BACKEND_OPTIONS, {
    usage: 'switchyard backend [options]',
    summary:
      'Run a demo backend. On --port, the traffic a balancer sends: GET / (any path) answers JSON saying who served it; /health for checks; /ws is a WebSocket echo; /echo returns the request as seen. On --control-port (loopback by default), /fault injects latency, errors, unhealthiness or hangs; the traffic port answers /fault with 404 like any unknown route.',
    footer: 'Example: switchyard backend --port 8082 --id b2 && curl -XPOST localhost:18082/fault -d \'{"latencyMs":50}\' -H content-type:application/json',
  });
}

export function loadBackendConfig(sources: OptionSources): { config: BackendConfig; help: boolean } {
  const { values, help } = loadOptions(BACKEND_OPTIONS, sources);
  const controlPort = values.controlPort ?? defaultControlPort(values.port);
  if (controlPort !== 0 && controlPort === values.port)
    throw new ConfigError(`--control-port ${controlPort} is the traffic port (--port); the control listener needs a port of its own`);
  return { config: Object.freeze({ ...values, id: values.id ?? `${hostname()}:${values.port}`, controlPort }), help };
}
