import { loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../../common/config/options.js';
import { boolean, decimal, duration, integer, oneOf, text } from '../../common/config/values.js';

export const SOAK_OPTIONS = {
  requests: option({ type: integer(100, 100_000_000), flag: 'requests', env: ['SWITCHYARD_SOAK_REQUESTS'], default: 1_000_000, help: 'Stop after this many requests ...' }),
  maxDuration: option({ type: duration(1000, 86_400_000), flag: 'max-duration', env: ['SWITCHYARD_SOAK_MAX_DURATION'], default: 600_000, help: '... or after this long, whichever comes first.' }),
  connections: option({ type: integer(1, 10_000), flag: 'connections', env: ['SWITCHYARD_SOAK_CONNECTIONS'], default: 64, help: 'Concurrent client connections.' }),
  abortShare: option({ type: decimal(0, 1), flag: 'abort-share', env: ['SWITCHYARD_SOAK_ABORT_SHARE'], default: 0.1, help: 'Share of requests the client aborts mid-flight (sent to /delay/<slow-path> and aborted after --abort-after).' }),
  slowPath: option({ type: duration(1, 60_000), flag: 'slow-path', env: ['SWITCHYARD_SOAK_SLOW_PATH'], default: 100, help: 'How slow the backend answers the requests that get aborted.' }),
  abortAfter: option({ type: duration(1, 60_000), flag: 'abort-after', env: ['SWITCHYARD_SOAK_ABORT_AFTER'], default: 20, help: 'When the client aborts them (before the backend answers).' }),
  warmup: option({ type: duration(0, 3_600_000), flag: 'warmup', env: ['SWITCHYARD_SOAK_WARMUP'], default: 60_000, help: 'RSS is compared from the end of this warm-up ...' }),
  window: option({ type: duration(100, 600_000), flag: 'window', env: ['SWITCHYARD_SOAK_WINDOW'], default: 10_000, help: '... as the median of the samples in this window after the warm-up and in the last one of the load.' }),
  maxRssGrowth: option({ type: decimal(0, 10), flag: 'max-rss-growth', env: ['SWITCHYARD_SOAK_MAX_RSS_GROWTH'], default: 0.1, help: 'Largest RSS growth allowed (0.1 = 10 %).' }),
  settle: option({ type: duration(0, 600_000), flag: 'settle', env: ['SWITCHYARD_SOAK_SETTLE'], default: 20_000, help: 'After the load, how long fds and upstream sockets may take to return to baseline (idle keep-alive connections close in ~5 s).' }),
  sampleInterval: option({ type: duration(50, 60_000), flag: 'sample-interval', env: ['SWITCHYARD_SOAK_SAMPLE_INTERVAL'], default: 1000, help: 'How often RSS, fds and upstream sockets are read from /proc.' }),
  engine: option({ type: oneOf(['raw', 'undici'] as const), flag: 'engine', env: ['SWITCHYARD_SOAK_ENGINE'], default: 'raw', help: 'Forwarding engine of the balancer under test (the balancer default, raw).' }),
  out: option({ type: text({ min: 1 }), flag: 'out', env: ['SWITCHYARD_SOAK_OUT'], default: 'bench/results', help: 'Directory for the JSON samples and the SVG chart.' }),
  smoke: option({ type: boolean(), flag: 'smoke', env: ['SWITCHYARD_SOAK_SMOKE'], default: false, help: 'A few seconds (CI): 6 s of load, 2 s warm-up, 1 s windows.' }),
} as const;

export type SoakConfig = OptionValues<typeof SOAK_OPTIONS>;

export function soakHelp(): string {
  return renderHelp(SOAK_OPTIONS, {
    usage: 'switchyard soak [options]',
    summary:
      'Soak a balancer (two demo backends behind it) with bounded load while a share of clients abort mid-flight; record its RSS, open fds and upstream sockets over time. Fails (exit 1) when RSS grows more than --max-rss-growth after warm-up, or fds or upstream sockets do not return to baseline.',
    footer: 'Example: switchyard soak --requests 200000 --warmup 20s',
  });
}

export function loadSoakConfig(sources: OptionSources): { config: SoakConfig; help: boolean } {
  const { values, help } = loadOptions(SOAK_OPTIONS, sources);
  if (!values.smoke) return { config: values, help };
  return { config: Object.freeze({ ...values, requests: Math.min(values.requests, 200_000), maxDuration: 6000, warmup: 2000, window: 1000, sampleInterval: 250, settle: Math.min(values.settle, 15_000) }), help };
}
