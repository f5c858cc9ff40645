import { hostname } from 'node:os';
import { loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../common/config/options.js';
import { boolean, decimal, duration, integer, oneOf, port, text } from '../common/config/values.js';
import { LOG_LEVELS } from '../common/logger.js';

export const BACKEND_OPTIONS = {
  port: option({ type: port(), flag: 'port', env: ['SWITCHYARD_BACKEND_PORT', 'PORT'], default: 8081, help: 'Port the backend listens on.' }),
  host: option({ type: text({ min: 1 }), flag: 'host', env: ['SWITCHYARD_BACKEND_HOST'], default: '0.0.0.0', help: 'Address the backend binds to.' }),
  id: option({ type: text({ min: 1, max: 128 }), flag: 'id', env: ['SWITCHYARD_BACKEND_ID'], help: 'Name this backend reports in every answer (default: hostname:port).' }),
  latency: option({ type: duration(0, 600_000), flag: 'latency', env: ['SWITCHYARD_FAULT_LATENCY'], default: 0, help: 'Injected delay before every answer except /health.', group: 'Failure injection (also POST /fault at run time)' }),
  errorRate: option({ type: decimal(0, 1), flag: 'error-rate', env: ['SWITCHYARD_FAULT_ERROR_RATE'], default: 0, help: 'Share of requests answered with --error-status.', group: 'Failure injection (also POST /fault at run time)' }),
  errorStatus: option({ type: integer(400, 599), flag: 'error-status', env: ['SWITCHYARD_FAULT_ERROR_STATUS'], default: 500, help: 'Status of injected errors.', group: 'Failure injection (also POST /fault at run time)' }),
  unhealthy: option({ type: boolean(), flag: 'unhealthy', env: ['SWITCHYARD_FAULT_UNHEALTHY'], default: false, help: 'Answer /health with 503 while serving everything else.', group: 'Failure injection (also POST /fault at run time)' }),
  hang: option({ type: boolean(), flag: 'hang', env: ['SWITCHYARD_FAULT_HANG'], default: false, help: 'Accept requests and never answer them (except /fault).', group: 'Failure injection (also POST /fault at run time)' }),
  shutdownTimeout: option({ type: duration(0, 600_000), flag: 'shutdown-timeout', env: ['SWITCHYARD_SHUTDOWN_TIMEOUT'], default: 10_000, help: 'On SIGTERM, how long open requests may take to finish.' }),
  logLevel: option({ type: oneOf(LOG_LEVELS), flag: 'log-level', env: ['SWITCHYARD_LOG_LEVEL', 'LOG_LEVEL'], default: 'info', help: 'Log level.' }),
} as const;

export interface BackendConfig extends OptionValues<typeof BACKEND_OPTIONS> {
  readonly id: string;
}

export function backendHelp(): string {
  return renderHelp(BACKEND_OPTIONS, {
    usage: 'switchyard backend [options]',
    summary:
      'Run a demo backend. GET / (any path) answers JSON saying who served it; /health for checks; /fault to inject latency, errors, unhealthiness or hangs; /ws is a WebSocket echo; /echo returns the request as seen.',
    footer: "Example: switchyard backend --port 8082 --id b2 && curl -XPOST localhost:8082/fault -d '{\"latencyMs\":50}' -H content-type:application/json",
  });
}

export function loadBackendConfig(sources: OptionSources): { config: BackendConfig; help: boolean } {
  const { values, help } = loadOptions(BACKEND_OPTIONS, sources);
  return { config: Object.freeze({ ...values, id: values.id ?? `${hostname()}:${values.port}` }), help };
}
