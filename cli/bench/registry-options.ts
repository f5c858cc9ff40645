import { loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../../common/config/options.js';
import { boolean, duration, integer, text } from '../../common/config/values.js';

export const REGISTRY_BENCH_OPTIONS = {
  backends: option({ type: integer(1, 100_000), flag: 'backends', env: ['SWITCHYARD_REGISTRY_BENCH_BACKENDS'], default: 10_000, help: 'Backends written to the registry in one transaction.' }),
  listeners: option({ type: integer(1, 64), flag: 'listeners', env: ['SWITCHYARD_REGISTRY_BENCH_LISTENERS'], default: 4, help: 'Real demo backends the ids are spread over (each id is a distinct registry entry; several share a listener).' }),
  healthInterval: option({ type: duration(100, 600_000), flag: 'health-interval', env: ['SWITCHYARD_REGISTRY_BENCH_HEALTH_INTERVAL'], default: 2000, help: 'The balancer\'s --health-interval (its default): health checks stay on for every backend.' }),
  settle: option({ type: duration(0, 600_000), flag: 'settle', env: ['SWITCHYARD_REGISTRY_BENCH_SETTLE'], default: 10_000, help: 'After every backend is routable, how long the steady state (health checks only) is watched.' }),
  timeout: option({ type: duration(1000, 3_600_000), flag: 'timeout', env: ['SWITCHYARD_REGISTRY_BENCH_TIMEOUT'], default: 120_000, help: 'Give up when the backends are not all routable within this time.' }),
  out: option({ type: text({ min: 1 }), flag: 'out', env: ['SWITCHYARD_REGISTRY_BENCH_OUT'], default: 'bench/results', help: 'Directory for the JSON result.' }),
  profile: option({ type: text({ min: 1 }), flag: 'profile', env: ['SWITCHYARD_REGISTRY_BENCH_PROFILE'], help: 'Write a CPU profile of the balancer (node --cpu-prof) into this directory.' }),
  check: option({ type: boolean(), flag: 'check', env: ['SWITCHYARD_REGISTRY_BENCH_CHECK'], default: true, help: 'Exit 1 when a goal is missed (--no-check only reports).' }),
} as const;

export type RegistryBenchConfig = OptionValues<typeof REGISTRY_BENCH_OPTIONS>;

export function registryBenchHelp(): string {
  return renderHelp(REGISTRY_BENCH_OPTIONS, {
    usage: 'switchyard bench-registry [options]',
    summary:
      'Write --backends healthy backends into a Redis registry at once and measure what it costs one balancer: time to apply the snapshot, time until all are routable (first health checks), RSS growth, event-loop delay while applying and in the steady state, a proxy request\'s worst wait meanwhile, and the size and time of /metrics. Needs redis-server on PATH.',
    footer: 'Example: switchyard bench-registry --backends 2000 --no-check',
  });
}

export function loadRegistryBenchConfig(sources: OptionSources): { config: RegistryBenchConfig; help: boolean } {
  const { values, help } = loadOptions(REGISTRY_BENCH_OPTIONS, sources);
  return { config: values, help };
}
