#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/config/options.js';

interface Command {
  readonly summary: string;
  run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number | void>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  balancer: {
    summary: 'run the load balancer (reverse proxy, health checks, admin API)',
    run: async (argv, env) => (await import('../balancer/main.js')).runBalancer(argv, env),
  },
  backend: {
    summary: 'run a demo backend with failure injection',
    run: async (argv, env) => (await import('../backend/main.js')).runBackend(argv, env),
  },
  controller: {
    summary: 'keep the registry in step with labelled Docker containers',
    run: async (argv, env) => (await import('../controller/main.js')).runController(argv, env),
  },
  'docker-api-proxy': {
    summary: 'serve the Docker API filtered to what the controller needs (the only holder of the socket)',
    run: async (argv, env) => (await import('../controller/api-proxy/main.js')).runApiProxy(argv, env),
  },
  demo: {
    summary: 'start N backends and a balancer locally, stop them all on Ctrl+C',
    run: async (argv, env) => (await import('./demo.js')).runDemo(argv, env),
  },
  chaos: {
    summary: 'replay a failure story (kill, stop, pause, faults) under load on the local demo and report what was lost',
    run: async (argv, env) => (await import('./chaos/main.js')).runChaos(argv, env),
  },
  load: {
    summary: 'send bounded HTTP load and show req/s, latency and the per-backend spread',
    run: async (argv, env) => (await import('./load/main.js')).runLoadCommand(argv, env),
  },
  bench: {
    summary: 'measure Switchyard against nginx, HAProxy and Node baselines in one run',
    run: async (argv, env) => (await import('./bench/main.js')).runBench(argv, env),
  },
  'bench-registry': {
    summary: 'write 10,000 backends into a Redis registry at once; measure apply time, RSS, event-loop delay, /metrics',
    run: async (argv, env) => (await import('./bench/registry-main.js')).runRegistryBench(argv, env),
  },
  'bench-compose': {
    summary: 'measure the running Compose stack through its published port and straight to the balancer container',
    run: async (argv, env) => (await import('./bench/compose-main.js')).runComposeBench(argv, env),
  },
  soak: {
    summary: 'soak a balancer with aborting clients; check RSS and open fds stay flat',
    run: async (argv, env) => (await import('./bench/soak-main.js')).runSoak(argv, env),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'Usage: switchyard <command> [options]',
    '',
    'A dynamic HTTP load balancer you can watch and trust.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'switchyard <command> --help' for the options of a command.",
    '',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`switchyard: unknown command '${name}'\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  try {
    const code = await command.run(rest, process.env);
    if (typeof code === 'number') process.exit(code);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchyard ${name}: ${err.message}\nRun 'switchyard ${name} --help' for the options.\n`);
      process.exit(2);
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
      process.stderr.write(`switchyard ${name}: cannot listen: ${e.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`switchyard ${name}: ${e.stack ?? String(err)}\n`);
    process.exit(1);
  }
}

await main();
