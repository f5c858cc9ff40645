import { z } from 'zod';

/**
 * Value types for configuration options. Each one accepts the raw text of a
 * flag or environment variable, or the JSON value of a config file key, and
 * says in plain words what it expects so errors can name it.
 */
export interface ValueType<T> {
  readonly schema: z.ZodType<T>;
  /** Human description used in errors and --help, e.g. "an integer from 1 to 65535". */
  readonly expected: string;
  /** Placeholder shown in --help, e.g. "<n>". */
  readonly placeholder: string;
  /** True for switches that take no value on the command line. */
  readonly isSwitch?: boolean;
}

const trimmed = (v: unknown): unknown => (typeof v === 'string' ? v.trim() : v);

export function integer(min: number, max: number): ValueType<number> {
  const schema = z.preprocess((v) => {
    const t = trimmed(v);
    return typeof t === 'string' && /^-?\d+$/.test(t) ? Number(t) : t;
  }, z.number().int().min(min).max(max));
  return { schema, expected: `an integer from ${min} to ${max}`, placeholder: '<n>' };
}

export function port(): ValueType<number> {
  return { ...integer(0, 65535), expected: 'a port number from 0 to 65535 (0 picks a free port)', placeholder: '<port>' };
}

export function decimal(min: number, max: number): ValueType<number> {
  const schema = z.preprocess((v) => {
    const t = trimmed(v);
    return typeof t === 'string' && /^-?(\d+\.?\d*|\.\d+)$/.test(t) ? Number(t) : t;
  }, z.number().min(min).max(max));
  return { schema, expected: `a number from ${min} to ${max}`, placeholder: '<x>' };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "250ms", "2s", "1.5m" or a bare number of milliseconds. Returns milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']!);
}

export function duration(minMs = 0, maxMs = 86_400_000): ValueType<number> {
  const schema = z.preprocess((v) => (typeof v === 'string' ? (parseDuration(v) ?? v) : v), z.number().int().min(minMs).max(maxMs));
  return {
    schema,
    expected: `a duration from ${formatMs(minMs)} to ${formatMs(maxMs)} such as 500ms, 2s or 1m (a bare number is milliseconds)`,
    placeholder: '<duration>',
  };
}

export function formatMs(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

export function boolean(): ValueType<boolean> {
  const schema = z.preprocess((v) => {
    const t = trimmed(v);
    if (typeof t !== 'string') return t;
    const w = t.toLowerCase();
    if (TRUE_WORDS.has(w)) return true;
    if (FALSE_WORDS.has(w)) return false;
    return t;
  }, z.boolean());
  return { schema, expected: 'true or false (also 1/0, yes/no, on/off)', placeholder: '', isSwitch: true };
}

export function oneOf<const T extends string>(values: readonly T[]): ValueType<T> {
  const schema = z.preprocess(trimmed, z.enum(values as unknown as [T, ...T[]]));
  return { schema, expected: `one of: ${values.join(', ')}`, placeholder: `<${values.join('|')}>` };
}

export function text(opts: { min?: number; max?: number; pattern?: RegExp; expected?: string } = {}): ValueType<string> {
  let s = z
    .string()
    .min(opts.min ?? 0)
    .max(opts.max ?? 4096);
  if (opts.pattern) s = s.regex(opts.pattern);
  const schema = z.preprocess(trimmed, s);
  const expected = opts.expected ?? (opts.min ? 'a non-empty text' : 'a text');
  return { schema, expected, placeholder: '<text>' };
}

export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname.length > 0;
  } catch {
    return false;
  }
}

export function redisUrl(): ValueType<string> {
  const schema = z.preprocess(
    trimmed,
    z.string().refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'redis:' || u.protocol === 'rediss:';
      } catch {
        return false;
      }
    }),
  );
  return { schema, expected: 'a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0', placeholder: '<url>' };
}

/** `host:port` or `[IPv6]:port`. */
export function hostPort(): ValueType<string> {
  const schema = z.preprocess(
    trimmed,
    z.string().refine((v) => {
      const m = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(v);
      return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
    }),
  );
  return { schema, expected: 'host:port, such as 10.0.0.5:26379 or [::1]:26379', placeholder: '<host:port>' };
}

export function httpUrl(): ValueType<string> {
  const schema = z.preprocess(trimmed, z.string().refine(isHttpUrl));
  return { schema, expected: 'an http:// or https:// URL', placeholder: '<url>' };
}

/** A comma-separated list (or a JSON array in a config file) of items of one type. */
export function listOf<T>(item: ValueType<T>, what: string): ValueType<T[]> {
  const schema = z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    const t = v.trim();
    return t === '' ? [] : t.split(',').map((s) => s.trim());
  }, z.array(item.schema));
  return { schema, expected: `a comma-separated list of ${what}`, placeholder: '<a,b,...>' };
}
