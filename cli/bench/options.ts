import { ConfigError, loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../../common/config/options.js';
import { boolean, duration, integer, listOf, oneOf, text } from '../../common/config/values.js';
import { DEFAULT_PROXIES, DEFAULT_VARIANT_PROXIES, PROXY_IDS, TLS_PROXY_IDS, type ProxyId } from './targets.js';

export const BENCH_OPTIONS = {
  rounds: option({ type: integer(1, 20), flag: 'rounds', env: ['SWITCHYARD_BENCH_ROUNDS'], default: 3, help: 'Interleaved rounds; the table shows medians over them.' }),
  duration: option({ type: duration(1000, 120_000), flag: 'duration', env: ['SWITCHYARD_BENCH_DURATION'], default: 5000, help: 'Length of one measured run (whole seconds for wrk).' }),
  warmup: option({ type: duration(0, 60_000), flag: 'warmup', env: ['SWITCHYARD_BENCH_WARMUP'], default: 2000, help: 'Unmeasured load on each proxy at the highest connection count before the first round.' }),
  ramp: option({ type: duration(0, 60_000), flag: 'ramp', env: ['SWITCHYARD_BENCH_RAMP'], default: 1000, help: 'Unmeasured load just before each measured run, at its connection count (fills connection pools).' }),
  connections: option({ type: listOf(integer(1, 10_000), 'connection counts'), flag: 'connections', env: ['SWITCHYARD_BENCH_CONNECTIONS'], default: [64, 256], help: 'Client connection counts, each measured for every proxy.' }),
  proxies: option({ type: listOf(oneOf(PROXY_IDS), 'proxy names'), flag: 'proxies', env: ['SWITCHYARD_BENCH_PROXIES'], default: [...DEFAULT_PROXIES] as ProxyId[], help: `Which proxies to run (known: ${PROXY_IDS.join(', ')}).` }),
  variantProxies: option({
    type: listOf(oneOf(PROXY_IDS), 'proxy names'),
    flag: 'variant-proxies',
    env: ['SWITCHYARD_BENCH_VARIANT_PROXIES'],
    default: [...DEFAULT_VARIANT_PROXIES] as ProxyId[],
    help: 'Proxies also run in front of our own Node backend (second backend variant) at the first connection count; empty to skip.',
  }),
  tlsProxies: option({
    type: listOf(oneOf(TLS_PROXY_IDS), 'proxy names'),
    flag: 'tls-proxies',
    env: ['SWITCHYARD_BENCH_TLS_PROXIES'],
    default: [...TLS_PROXY_IDS],
    help: 'HTTPS (wrk) and HTTP/2 (h2load) proxies, all serving one certificate, measured at the first connection count; empty to skip. One named in --proxies too is measured at every count instead.',
  }),
  loadGenerator: option({ type: oneOf(['auto', 'wrk', 'autocannon'] as const), flag: 'load-generator', env: ['SWITCHYARD_BENCH_LOAD_GENERATOR'], default: 'auto', help: 'wrk (auto: when installed) or autocannon through switchyard load.' }),
  out: option({ type: text({ min: 1 }), flag: 'out', env: ['SWITCHYARD_BENCH_OUT'], default: 'bench/results', help: 'Directory for the JSON result and the SVG chart.' }),
  install: option({ type: boolean(), flag: 'install', env: ['SWITCHYARD_BENCH_INSTALL'], default: true, help: 'Install missing nginx, haproxy, wrk, h2load (nghttp2-client) and openssl with apt-get when running as root (--no-install to never).' }),
  h2Streams: option({
    type: integer(1, 100),
    flag: 'h2-streams',
    env: ['SWITCHYARD_BENCH_H2_STREAMS'],
    default: 1,
    help: 'Concurrent streams per connection in the HTTP/2 rows (h2load -m): 1 keeps as many requests in flight as the HTTP/1.1 rows at the same connection count.',
  }),
  baseline: option({
    type: text({ min: 1 }),
    flag: 'baseline',
    env: ['SWITCHYARD_BENCH_BASELINE'],
    help: 'A built checkout (its dist/cli/switchyard.js) run as the proxy switchyard-baseline, for an A/B comparison in the same run, e.g. of CPU per request.',
  }),
  strict: option({ type: boolean(), flag: 'strict', env: ['SWITCHYARD_BENCH_STRICT'], default: false, help: 'Exit with status 3 when an acceptance figure fails (a regression gate; figures not measured do not count).' }),
  smoke: option({ type: boolean(), flag: 'smoke', env: ['SWITCHYARD_BENCH_SMOKE'], default: false, help: 'A few seconds in all, to prove the bench works (CI): 1 round of 1 s at 32 connections, no warm-up; variant: direct and switchyard only.' }),
} as const;

export type BenchConfig = OptionValues<typeof BENCH_OPTIONS>;

export function benchHelp(): string {
  return renderHelp(BENCH_OPTIONS, {
    usage: 'switchyard bench [options]',
    summary:
      'Measure Switchyard against nginx, HAProxy, a bare undici loop and http-proxy balancers in one run: same backends, same load generator, interleaved rounds. Prints req/s, p50/p99/p99.9, errors, RSS and CPU µs per request with ratios to nginx and to Switchyard; writes JSON and an SVG chart. Method: docs/performance.md.',
    footer: 'Example: switchyard bench --rounds 5 --connections 64 --proxies switchyard,nginx,undici-loop',
  });
}

export function loadBenchConfig(sources: OptionSources): { config: BenchConfig; help: boolean } {
  const { values, help } = loadOptions(BENCH_OPTIONS, sources);
  if (values.connections.length === 0) throw new ConfigError('--connections needs at least one count');
  if (values.proxies.length === 0) throw new ConfigError('--proxies needs at least one proxy');
  if (!values.smoke) return { config: values, help };
  const config: BenchConfig = Object.freeze({
    ...values,
    rounds: 1,
    duration: 1000,
    warmup: 0,
    ramp: 0,
    connections: [32],
    variantProxies: values.variantProxies.filter((p) => p === 'direct' || p === 'switchyard'),
  });
  return { config, help };
}
