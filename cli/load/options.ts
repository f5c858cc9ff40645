import { z } from 'zod';
import { ConfigError, loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../../common/config/options.js';
import { boolean, duration, integer, isHttpUrl, oneOf, text, type ValueType } from '../../common/config/values.js';

/** No HEAD: autocannon's response parser is not told a HEAD answer has no body and waits for one until the timeout. */
export const LOAD_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Default length of a run when neither --duration nor --requests is given. */
export const DEFAULT_DURATION_MS = 10_000;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Request headers as `name: value` lines (repeated --header flags are joined by newlines), or a JSON array of such strings. */
export function headerList(): ValueType<[string, string][]> {
  const line = z.string().transform((s, ctx): [string, string] => {
    const colon = s.indexOf(':');
    const name = colon > 0 ? s.slice(0, colon).trim() : '';
    if (!HEADER_NAME.test(name)) {
      ctx.addIssue({ code: 'custom', message: `bad header '${s}'` });
      return z.NEVER;
    }
    return [name, s.slice(colon + 1).trim()];
  });
  const schema = z.preprocess((v) => (typeof v === 'string' ? v.split('\n').filter((l) => l.trim() !== '') : v), z.array(line));
  return { schema, expected: "a header as 'name: value' (repeat --header for more)", placeholder: '<name:value>' };
}

export const LOAD_OPTIONS = {
  connections: option({
    type: integer(1, 10_000),
    flag: 'connections',
    env: ['SWITCHYARD_LOAD_CONNECTIONS'],
    default: 10,
    help: 'Concurrent connections, each with one request in flight.',
  }),
  duration: option({
    type: duration(100, 3_600_000),
    flag: 'duration',
    env: ['SWITCHYARD_LOAD_DURATION'],
    help: `How long to run (default ${DEFAULT_DURATION_MS / 1000}s unless --requests is given).`,
  }),
  requests: option({
    type: integer(1, 1_000_000_000),
    flag: 'requests',
    env: ['SWITCHYARD_LOAD_REQUESTS'],
    help: 'Stop after this many responses instead of after a duration.',
  }),
  timeLimit: option({
    type: duration(100, 86_400_000),
    flag: 'time-limit',
    env: ['SWITCHYARD_LOAD_TIME_LIMIT'],
    default: 300_000,
    help: 'With --requests: stop anyway after this long, so a run never goes on for ever.',
  }),
  rate: option({
    type: integer(1, 10_000_000),
    flag: 'rate',
    env: ['SWITCHYARD_LOAD_RATE'],
    help: 'Target total requests per second (default: as fast as the server answers).',
  }),
  timeout: option({
    type: duration(1, 600_000),
    flag: 'timeout',
    env: ['SWITCHYARD_LOAD_TIMEOUT'],
    default: 10_000,
    help: 'A request without a response in this time counts as a timeout error and its connection is reopened.',
  }),
  method: option({ type: oneOf(LOAD_METHODS), flag: 'method', env: ['SWITCHYARD_LOAD_METHOD'], default: 'GET', help: 'HTTP method of every request.' }),
  header: option({
    type: headerList(),
    flag: 'header',
    env: ['SWITCHYARD_LOAD_HEADERS'],
    default: [] as [string, string][],
    help: "A request header 'name: value'; repeat the flag for more (env: one per line).",
  }),
  body: option({ type: text({ max: 1_048_576 }), flag: 'body', env: ['SWITCHYARD_LOAD_BODY'], help: 'Request body sent with every request.' }),
  json: option({
    type: boolean(),
    flag: 'json',
    env: ['SWITCHYARD_LOAD_JSON'],
    default: false,
    help: 'Print one JSON document (shape: docs/load-tool.md) instead of the summary.',
  }),
  chart: option({
    type: text({ min: 1 }),
    flag: 'chart',
    env: ['SWITCHYARD_LOAD_CHART'],
    help: 'Write an SVG chart of the per-backend share over time to this file.',
  }),
  progress: option({
    type: boolean(),
    flag: 'progress',
    env: ['SWITCHYARD_LOAD_PROGRESS'],
    help: 'Show a progress bar on stderr (default: only when stdout and stderr are terminals).',
  }),
} as const;

export type LoadOptionValues = OptionValues<typeof LOAD_OPTIONS>;

export interface LoadConfig extends Omit<LoadOptionValues, 'duration'> {
  readonly url: string;
  /** Set when the run is bounded by time (the default). */
  readonly duration: number | undefined;
}

export const LOAD_HELP = {
  usage: 'switchyard load <url> [options]',
  summary:
    'Send HTTP load to a URL and report req/s, latency percentiles, status codes, errors and how responses spread over backends (X-Backend header). Runs 10 s unless told otherwise; never runs for ever.',
  footer: 'Example: switchyard load http://localhost:9090 --requests 5000 --connections 20 --chart share.svg',
};

export function loadHelp(): string {
  return renderHelp(LOAD_OPTIONS, LOAD_HELP);
}

/** Repeated `--header` flags become one newline-joined value, since the option parser keeps the last of a flag. */
export function joinRepeatedFlag(argv: readonly string[], flag: string): string[] {
  const values: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === `--${flag}`) {
      const v = argv[i + 1];
      if (v === undefined) throw new ConfigError(`--${flag} needs a value`);
      values.push(v);
      i++;
    } else if (a.startsWith(`--${flag}=`)) {
      values.push(a.slice(flag.length + 3));
    } else {
      rest.push(a);
    }
  }
  return values.length ? [`--${flag}=${values.join('\n')}`, ...rest] : rest;
}

export function loadLoadConfig(sources: OptionSources): { config: LoadConfig; help: boolean } {
  const { values, positionals, help } = loadOptions(LOAD_OPTIONS, { ...sources, argv: joinRepeatedFlag(sources.argv, 'header') }, { maxPositionals: 1 });
  const url = positionals[0];
  if (help) return { config: undefined as unknown as LoadConfig, help };
  if (url === undefined) throw new ConfigError('missing the URL to load, e.g. switchyard load http://localhost:9090');
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `http://${url}`;
  if (!isHttpUrl(withScheme)) throw new ConfigError(`invalid URL '${url}': expected an http:// or https:// URL`);
  if (values.duration !== undefined && values.requests !== undefined) throw new ConfigError('give --duration or --requests, not both');
  const config: LoadConfig = Object.freeze({
    ...values,
    // each connection sends at least one request, so a small --requests needs fewer connections
    connections: values.requests === undefined ? values.connections : Math.min(values.connections, values.requests),
    url: withScheme,
    duration: values.requests === undefined ? (values.duration ?? DEFAULT_DURATION_MS) : undefined,
  });
  return { config, help };
}
