/**
 * The registry's unit: one backend the balancer may route to. Every program
 * speaks this shape; the Redis schema (common/registry/redis-schema.ts) and
 * the admin API encode it.
 */
export type BackendState = 'active' | 'draining';
export const BACKEND_STATES: readonly BackendState[] = ['active', 'draining'];

export interface BackendSpec {
  /** Stable identity: `[A-Za-z0-9][A-Za-z0-9._:-]*`, at most 128 characters. */
  readonly id: string;
  /** Origin only: `http://host:port` (https also accepted). */
  readonly url: string;
  /** Relative share, 0 to 1000; 0 takes no new traffic. */
  readonly weight: number;
  /** `draining` keeps in-flight requests but receives no new ones. */
  readonly state: BackendState;
  readonly labels: Readonly<Record<string, string>>;
}

export const DEFAULT_WEIGHT = 1;
export const MAX_WEIGHT = 1000;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export function isBackendId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** Normalises a backend URL to its origin; undefined when it is not a usable http(s) origin. */
export function toOrigin(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  if (!u.hostname || u.username || u.password || u.search || u.hash) return undefined;
  if (u.pathname !== '/' && u.pathname !== '') return undefined;
  return u.origin;
}

/** Default id for a URL without one: its host and port. */
export function idFromUrl(origin: string): string {
  const u = new URL(origin);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return `${u.hostname.replace(/^\[|\]$/g, '').replace(/[^A-Za-z0-9._-]/g, '-')}:${port}`;
}

/**
 * Validates an untrusted backend description (admin API body, registry hash,
 * config). Weight and state may be absent and take their defaults; labels
 * must map strings to strings.
 */
export function parseBackendSpec(input: unknown): ParseResult<BackendSpec> {
  if (input === null || typeof input !== 'object') return { ok: false, reason: 'not an object' };
  const o = input as Record<string, unknown>;
  if (typeof o.url !== 'string') return { ok: false, reason: 'url is missing' };
  const url = toOrigin(o.url);
  if (!url) return { ok: false, reason: `url '${o.url}' is not an http(s) origin such as http://10.0.0.5:8080` };
  const id = o.id === undefined || o.id === '' ? idFromUrl(url) : o.id;
  if (!isBackendId(id)) return { ok: false, reason: `id '${String(id)}' must match ${ID_PATTERN.source}` };
  let weight = DEFAULT_WEIGHT;
  if (o.weight !== undefined && o.weight !== '') {
    const w = typeof o.weight === 'string' ? Number(o.weight) : o.weight;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > MAX_WEIGHT) {
      return { ok: false, reason: `weight '${String(o.weight)}' must be an integer from 0 to ${MAX_WEIGHT}` };
    }
    weight = w;
  }
  const state = o.state === undefined || o.state === '' ? 'active' : o.state;
  if (state !== 'active' && state !== 'draining') return { ok: false, reason: `state '${String(o.state)}' must be active or draining` };
  const labels: Record<string, string> = {};
  if (o.labels !== undefined && o.labels !== null) {
    if (typeof o.labels !== 'object' || Array.isArray(o.labels)) return { ok: false, reason: 'labels must be an object of strings' };
    for (const [k, v] of Object.entries(o.labels as Record<string, unknown>)) {
      if (typeof v !== 'string') return { ok: false, reason: `label '${k}' must be a string` };
      labels[k] = v;
    }
  }
  return { ok: true, value: Object.freeze({ id, url, weight, state, labels: Object.freeze(labels) }) };
}

/**
 * Parses the seeds' flag style: `http://h:p,http://h:p`, each item optionally
 * `id=url`. Throws with the offending item named.
 */
export function parseBackendList(text: string): BackendSpec[] {
  const out: BackendSpec[] = [];
  const seen = new Set<string>();
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = item.indexOf('=');
    const hasId = eq > 0 && !item.slice(0, eq).includes('/');
    const parsed = parseBackendSpec(hasId ? { id: item.slice(0, eq), url: item.slice(eq + 1) } : { url: item });
    if (!parsed.ok) throw new Error(`backend '${item}': ${parsed.reason}`);
    if (seen.has(parsed.value.id)) throw new Error(`backend '${item}': id '${parsed.value.id}' is given twice`);
    seen.add(parsed.value.id);
    out.push(parsed.value);
  }
  return out;
}

export function sameSpec(a: BackendSpec, b: BackendSpec): boolean {
  if (a.id !== b.id || a.url !== b.url || a.weight !== b.weight || a.state !== b.state) return false;
  const ka = Object.keys(a.labels);
  if (ka.length !== Object.keys(b.labels).length) return false;
  return ka.every((k) => a.labels[k] === b.labels[k]);
}
