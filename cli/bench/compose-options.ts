import { loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../../common/config/options.js';
import { duration, integer, text } from '../../common/config/values.js';

export const COMPOSE_BENCH_OPTIONS = {
  rounds: option({ type: integer(1, 20), flag: 'rounds', env: ['SWITCHYARD_COMPOSE_BENCH_ROUNDS'], default: 5, help: 'Interleaved rounds (the two paths alternate, the order rotating each round).' }),
  duration: option({ type: duration(1000, 120_000), flag: 'duration', env: ['SWITCHYARD_COMPOSE_BENCH_DURATION'], default: 5000, help: 'Length of one measured run (whole seconds).' }),
  ramp: option({ type: duration(0, 60_000), flag: 'ramp', env: ['SWITCHYARD_COMPOSE_BENCH_RAMP'], default: 1000, help: 'Unmeasured load just before each measured run.' }),
  connections: option({ type: integer(1, 10_000), flag: 'connections', env: ['SWITCHYARD_COMPOSE_BENCH_CONNECTIONS'], default: 256, help: 'Client connections (wrk -t1).' }),
  published: option({ type: text({ min: 1 }), flag: 'published', env: ['SWITCHYARD_COMPOSE_BENCH_PUBLISHED'], default: 'http://127.0.0.1:9090/', help: 'The stack\'s published proxy port, as a user reaches it.' }),
  project: option({ type: text({ min: 1 }), flag: 'project', env: ['PROJECT', 'COMPOSE_PROJECT_NAME'], default: 'switchyard', help: 'Compose project of the running stack (make up).' }),
  network: option({ type: text({ min: 1 }), flag: 'network', env: ['SWITCHYARD_NETWORK'], default: 'switchyard', help: 'The stack network whose address of the balancer container is measured directly (the project prefix is added).' }),
  out: option({ type: text({ min: 1 }), flag: 'out', env: ['SWITCHYARD_COMPOSE_BENCH_OUT'], default: 'bench/results', help: 'Directory for the JSON result.' }),
} as const;

export type ComposeBenchConfig = OptionValues<typeof COMPOSE_BENCH_OPTIONS>;

export function composeBenchHelp(): string {
  return renderHelp(COMPOSE_BENCH_OPTIONS, {
    usage: 'switchyard bench-compose [options]',
    summary:
      'Measure the running Compose stack (make up) two ways in one run: through its published port (localhost:9090, where Docker\'s userland proxy sits in the path) and straight to the balancer container\'s address on the stack network (the same balancer, no proxy in front). Prints req/s, p50, p99 and max per round and their medians, the ratio of the two, and the CPU per request of the balancer and of docker-proxy. Needs the docker CLI; the load comes from wrk when installed, else autocannon.',
    footer: 'Example: make up && switchyard bench-compose --rounds 3 --connections 64',
  });
}

export function loadComposeBenchConfig(sources: OptionSources): { config: ComposeBenchConfig; help: boolean } {
  const { values, help } = loadOptions(COMPOSE_BENCH_OPTIONS, sources);
  return { config: values, help };
}
