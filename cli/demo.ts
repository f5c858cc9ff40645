import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ConfigError, loadOptions, option, renderHelp, type OptionValues } from '../common/config/options.js';
import { boolean, integer, oneOf, port, redisUrl } from '../common/config/values.js';
import { STRATEGY_NAMES } from '../balancer/strategies/index.js';
import { CONTROL_PORT_OFFSET, defaultControlPort } from '../backend/config.js';

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

interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  exited: boolean;
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
  const children: Child[] = [];
  const self = [...process.execArgv, process.argv[1]!];
  const logLevel = cfg.verbose ? 'debug' : 'info';
  const start = (name: string, args: string[]): Child => {
    const childEnv: NodeJS.ProcessEnv = { ...env, SWITCHYARD_LOG_LEVEL: logLevel };
    const proc = spawn(process.execPath, [...self, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const child: Child = { name, proc, exited: false };
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => console.log(formatLogLine(name, line)));
    }
    proc.on('error', (err) => console.error(`${name}: ${err.message}`));
    children.push(child);
    return child;
  };

  const backendUrls: string[] = [];
  for (let i = 0; i < cfg.backends; i++) {
    const id = `backend-${i + 1}`;
    const p = cfg.basePort + i;
    start(id, [
      'backend',
      '--port',
      String(p),
      '--host',
      '127.0.0.1',
      '--id',
      id,
      '--control-port',
      String(cfg.controlBasePort + i),
      '--control-host',
      '127.0.0.1',
    ]);
    backendUrls.push(`${id}=http://127.0.0.1:${p}`);
  }
  // Checks every second so a killed backend shows on the dashboard at once.
  const lbArgs = [
    'balancer',
    '--port',
    String(cfg.port),
    '--admin-port',
    String(cfg.adminPort),
    '--strategy',
    cfg.strategy,
    '--health-interval',
    '1s',
    '--health-timeout',
    '500ms',
    '--backends',
    backendUrls.join(','),
  ];
  if (cfg.redis) lbArgs.push('--redis', cfg.redis);
  const balancer = start('balancer', lbArgs);

  let stopping = false;
  const stopAll = async (code: number): Promise<number> => {
    if (stopping) return code;
    stopping = true;
    console.log('\nStopping the demo...');
    await Promise.all(children.map((c) => stopChild(c)));
    return code;
  };

  return new Promise<number>((resolve) => {
    const onSignal = (): void => void stopAll(0).then(resolve);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (const c of children) {
      c.proc.on('exit', (code, signal) => {
        c.exited = true;
        if (stopping) return;
        console.log(`${c.name} exited (${signal ?? `code ${code}`})`);
        if (c === balancer) void stopAll(1).then(resolve);
      });
    }
    void waitReady(cfg).then((ok) => {
      if (stopping) return;
      if (!ok) {
        console.error('The balancer did not become ready in 15 s; see the log above.');
        void stopAll(1).then(resolve);
        return;
      }
      printBanner(cfg, children);
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

async function waitReady(cfg: DemoConfig): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${cfg.adminPort}/readyz`);
      const body = (await r.json()) as { routableBackends?: number };
      if (r.ok && (body.routableBackends ?? 0) >= cfg.backends) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

function printBanner(cfg: DemoConfig, children: readonly Child[]): void {
  const lines = [
    '',
    `Switchyard demo is up: ${cfg.backends} backends behind one balancer (${cfg.strategy}, registry: ${cfg.redis ? 'redis' : 'memory'}).`,
    '',
    `  proxy      http://localhost:${cfg.port}`,
    `  admin API  http://127.0.0.1:${cfg.adminPort}/backends`,
    `  dashboard  http://127.0.0.1:${cfg.adminPort}/`,
    ...children
      .filter((c) => c.name.startsWith('backend'))
      .map(
        (c, i) => `  ${c.name.padEnd(10)} http://127.0.0.1:${cfg.basePort + i}   faults http://127.0.0.1:${cfg.controlBasePort + i}/fault   pid ${c.proc.pid}`,
      ),
    '',
    'Try:',
    `  for i in $(seq 6); do curl -s localhost:${cfg.port}; echo; done`,
    `  kill ${children[1]?.proc.pid ?? '<pid>'}          # stop a backend; traffic flows around it`,
    `  curl -s -XPOST 127.0.0.1:${cfg.controlBasePort}/fault -H 'content-type: application/json' -d '{"unhealthy":true}'   # backend-1 fails its checks (control port only)`,
    `  curl -s localhost:${cfg.adminPort}/backends`,
    '',
    'Press Ctrl+C to stop everything.',
    '',
  ];
  console.log(lines.join('\n'));
}

function stopChild(c: Child): Promise<void> {
  if (c.exited || c.proc.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => c.proc.kill('SIGKILL'), 12_000);
    c.proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    c.proc.kill('SIGTERM');
  });
}
