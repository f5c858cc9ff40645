import { ConfigError, loadOptions, option, renderHelp, type OptionValues } from '../common/config/options.js';
import { boolean, integer, oneOf, port, redisUrl } from '../common/config/values.js';
import { STRATEGY_NAMES } from '../balancer/strategies/index.js';
import { CONTROL_PORT_OFFSET, defaultControlPort } from '../backend/config.js';
import { DemoStack } from './demo-stack.js';

export const DEMO_OPTIONS = {
  backends: option({ type: integer(1, 50), flag: 'backends', env: ['SWITCHYARD_DEMO_BACKENDS'], default: 3, help: 'How many backends to start.' }),
  port: option({ type: port(), flag: 'port', env: ['SWITCHYARD_PORT'], default: 9090, help: 'Port of the balancer.' }),
  adminPort: option({ type: port(), flag: 'admin-port', env: ['SWITCHYARD_ADMIN_PORT'], default: 9091, help: 'Port of the admin API.' }),
  basePort: option({
    type: port(),
    flag: 'base-port',
    env: ['SWITCHYARD_DEMO_BASE_PORT'],
    default: 8081,
    help: 'Port of the first backend; the others follow.',
  }),
  controlBasePort: option({
    type: port(),
    flag: 'control-base-port',
    env: ['SWITCHYARD_DEMO_CONTROL_BASE_PORT'],
    help: `Control port (fault injection, on 127.0.0.1) of the first backend; the others follow (default: --base-port + ${CONTROL_PORT_OFFSET}, e.g. 18081).`,
  }),
  strategy: option({ type: oneOf(STRATEGY_NAMES), flag: 'strategy', env: ['SWITCHYARD_STRATEGY'], default: 'round-robin', help: 'Load-balancing strategy.' }),
  redis: option({
    type: redisUrl(),
    flag: 'redis',
    env: ['REDIS_URL', 'SWITCHYARD_REDIS_URL'],
    help: 'Use this Redis as the registry; without it the registry is in memory.',
  }),
  verbose: option({
    type: boolean(),
    flag: 'verbose',
    env: ['SWITCHYARD_DEMO_VERBOSE'],
    default: false,
    help: 'Show every log line of the children, debug level included.',
  }),
} as const;

type DemoConfig = OptionValues<typeof DEMO_OPTIONS> & { readonly controlBasePort: number };

export function demoHelp(): string {
  return renderHelp(DEMO_OPTIONS, {
    usage: 'switchyard demo [options]',
    summary: 'Start N demo backends and a balancer in front of them as local processes, print where to curl, and stop them all on Ctrl+C.',
    footer: 'Example: switchyard demo --backends 3   then   curl localhost:9090',
  });
}

const HIDDEN_FIELDS = new Set(['level', 'time', 'pid', 'service', 'msg', 'instance', 'hostname']);

/** Formats a child's JSON log line for a person: time, who, message, fields. */
export function formatLogLine(name: string, line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${name.padEnd(10)} ${line}`;
  }
  const time = typeof o.time === 'string' ? o.time.slice(11, 19) : '';
  const extras = Object.entries(o)
    .filter(([k, v]) => !HIDDEN_FIELDS.has(k) && v !== undefined && v !== null && !(k === 'backendId' && v === name))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  const lvl = o.level === 'warn' || o.level === 'error' || o.level === 'fatal' ? ` ${String(o.level).toUpperCase()}` : '';
  return `${time} ${name.padEnd(10)}${lvl} ${String(o.msg ?? '')}${extras ? `  ${extras}` : ''}`;
}

export async function runDemo(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, help } = loadOptions(DEMO_OPTIONS, { argv, env });
  const cfg: DemoConfig = Object.freeze({ ...values, controlBasePort: values.controlBasePort ?? defaultControlPort(values.basePort) });
  checkPorts(cfg);
  if (help) {
    process.stdout.write(demoHelp());
    return 0;
  }
  const stack = new DemoStack({
    backends: cfg.backends,
    port: cfg.port,
    adminPort: cfg.adminPort,
    basePort: cfg.basePort,
    controlBasePort: cfg.controlBasePort,
    strategy: cfg.strategy,
    redis: cfg.redis,
    logLevel: cfg.verbose ? 'debug' : 'info',
    env,
    onLine: (name, line) => console.log(formatLogLine(name, line)),
    onExit: (c, code, signal) => {
      console.log(`${c.name} exited (${signal ?? `code ${code}`})`);
      if (c === stack.balancer) void stopAll(1).then(done);
    },
  });
  let done: (code: number) => void = () => undefined;
  let stopping = false;
  const stopAll = async (code: number): Promise<number> => {
    if (stopping) return code;
    stopping = true;
    console.log('\nStopping the demo...');
    await stack.close();
    return code;
  };

  return new Promise<number>((resolve) => {
    done = resolve;
    const onSignal = (): void => void stopAll(0).then(resolve);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    stack.start();
    void stack.waitReady(15_000).then((ok) => {
      if (stopping) return;
      if (!ok) {
        console.error('The balancer did not become ready in 15 s; see the log above.');
        void stopAll(1).then(resolve);
        return;
      }
      printBanner(cfg, stack);
    });
  });
}

/** Every child needs ports of its own: both rows of backend ports must fit and overlap nothing. */
function checkPorts(cfg: DemoConfig): void {
  const n = cfg.backends;
  const rows = [
    ['--base-port', cfg.basePort],
    ['--control-base-port', cfg.controlBasePort],
  ] as const;
  for (const [flag, base] of rows) {
    if (base === 0 || base + n - 1 > 65_535)
      throw new ConfigError(`${flag} ${base}: ${n} backends need ports ${base} to ${base + n - 1}, each from 1 to 65535`);
  }
  const used = [...rows.flatMap(([, base]) => Array.from({ length: n }, (_, i) => base + i)), ...[cfg.port, cfg.adminPort].filter((p) => p !== 0)];
  if (new Set(used).size !== used.length)
    throw new ConfigError(
      `--base-port ${cfg.basePort} and --control-base-port ${cfg.controlBasePort} give ${n} backends ports that overlap each other, --port or --admin-port`,
    );
}

function printBanner(cfg: DemoConfig, stack: DemoStack): void {
  const lines = [
    '',
    `Switchyard demo is up: ${cfg.backends} backends behind one balancer (${cfg.strategy}, registry: ${cfg.redis ? 'redis' : 'memory'}).`,
    '',
    `  proxy      http://localhost:${cfg.port}`,
    `  admin API  http://127.0.0.1:${cfg.adminPort}/backends`,
    `  dashboard  http://127.0.0.1:${cfg.adminPort}/`,
    ...stack.backends.map((b) => `  ${b.id.padEnd(10)} http://127.0.0.1:${b.port}   faults http://127.0.0.1:${b.controlPort}/fault   pid ${b.child.proc.pid}`),
    '',
    'Try:',
    `  for i in $(seq 6); do curl -s localhost:${cfg.port}; echo; done`,
    `  kill ${stack.backends[1]?.child.proc.pid ?? '<pid>'}          # stop a backend; traffic flows around it`,
    `  curl -s -XPOST 127.0.0.1:${cfg.controlBasePort}/fault -H 'content-type: application/json' -d '{"unhealthy":true}'   # backend-1 fails its checks (control port only)`,
    `  curl -s localhost:${cfg.adminPort}/backends`,
    '',
    'Press Ctrl+C to stop everything.',
    '',
  ];
  console.log(lines.join('\n'));
}
