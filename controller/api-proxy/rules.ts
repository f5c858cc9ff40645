/**
 * What the filtering Docker API proxy lets through: an exact list of
 * method + path pairs, nothing else. The list is the controller's needs and
 * no more: listing and inspecting containers and following events (read
 * only), plus the engine's ping for health checks. `GET` is not safe by
 * itself (container archive, export and logs read a container's files), so
 * paths are matched whole, never by prefix.
 *
 * A rule may also look at the request body (a future guarded write, such as
 * one service update, checks what it changes); a rule without a body check
 * admits only requests without a body.
 */
export interface ApiRule {
  readonly methods: readonly string[];
  /** Matched against the path without its `/v1.NN` version prefix and without the query. */
  readonly path: RegExp;
  readonly why: string;
  /**
   * Inspects a JSON body of at most MAX_CHECKED_BODY bytes and answers why it is
   * refused, or undefined to let it through; absent: no body allowed.
   */
  readonly body?: (json: unknown, request: CheckedRequest) => Promise<string | undefined>;
}

/** What a body check may look at besides the body: the request and the engine's current state. */
export interface CheckedRequest {
  /** Without the version prefix and the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** GET from the engine itself (not through the rules), as JSON. */
  readEngine(path: string): Promise<unknown>;
}

export const MAX_CHECKED_BODY = 64 * 1024;

const ID = '[A-Za-z0-9][A-Za-z0-9_.-]{0,127}';

export const CONTROLLER_RULES: readonly ApiRule[] = Object.freeze([
  { methods: ['GET', 'HEAD'], path: /^\/_ping$/, why: "engine health (the proxy's own health check)" },
  { methods: ['GET'], path: /^\/containers\/json$/, why: 'list labelled containers (reconcile)' },
  { methods: ['GET'], path: new RegExp(`^/containers/${ID}/json$`), why: 'inspect one container: networks, health, labels' },
  { methods: ['GET'], path: /^\/events$/, why: 'follow container events' },
  { methods: ['GET'], path: /^\/services$/, why: 'list labelled Swarm services (controller --swarm)' },
  { methods: ['GET'], path: /^\/tasks$/, why: "list those services' tasks: state, desired state, overlay addresses (controller --swarm)" },
]);

const SERVICE_UPDATE = new RegExp(`^/services/(${ID})/update$`);

/**
 * A service update is root-equivalent (it can change mounts, capabilities,
 * the image), so this one is admitted only when the new spec equals the
 * service's current spec in everything but the replica count, and the only
 * query is the `version` Docker requires. The autoscaler's one write.
 */
export const REPLICA_UPDATE_RULE: ApiRule = Object.freeze({
  methods: ['POST'],
  path: SERVICE_UPDATE,
  why: "change a replicated service's replica count, and nothing else (the autoscaler)",
  body: async (json: unknown, req: CheckedRequest): Promise<string | undefined> => {
    const extra = [...req.query.keys()].filter((k) => k !== 'version');
    if (extra.length) return `query parameters other than version: ${extra.join(', ')}`;
    if (!/^\d{1,20}$/.test(req.query.get('version') ?? '')) return 'the version query parameter is missing or not a number';
    const id = SERVICE_UPDATE.exec(req.path)![1]!;
    const current = (await req.readEngine(`/services/${id}`)) as { Spec?: unknown } | null;
    if (!current || typeof current !== 'object' || current.Spec === undefined) return `service ${id} could not be read`;
    return replicaOnlyChange(current.Spec, json);
  },
});

/** Why `next` differs from `current` in more than Mode.Replicated.Replicas; undefined when it does not. */
export function replicaOnlyChange(current: unknown, next: unknown): string | undefined {
  const replicas = (spec: unknown): unknown => (spec as { Mode?: { Replicated?: { Replicas?: unknown } } } | null)?.Mode?.Replicated?.Replicas;
  if (replicas(current) === undefined) return 'the service is not replicated';
  const n = replicas(next);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 1000) return 'the new spec has no replica count from 0 to 1000';
  const strip = (spec: unknown): unknown => {
    const copy = structuredClone(spec) as { Mode: { Replicated: { Replicas?: unknown } } };
    delete copy.Mode.Replicated.Replicas;
    return copy;
  };
  const diff = firstDifference(strip(current), strip(next), 'Spec');
  return diff === undefined ? undefined : `the new spec changes ${diff}, not only the replica count`;
}

/** The path of the first place where two JSON values differ. */
function firstDifference(a: unknown, b: unknown, at: string): string | undefined {
  if (a === b) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return at;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${at}[${k}]` : `${at}.${k}`);
    if (d !== undefined) return d;
  }
  return undefined;
}

export const VERSION_PREFIX = /^\/v[0-9]{1,2}\.[0-9]{1,3}(?=\/)/;
/** Bytes a path may hold: no percent-encoding, no dot segments, no backslashes. */
const PATH_CHARS = /^\/[A-Za-z0-9_./-]*$/;

export type Verdict = { readonly ok: true; readonly rule: ApiRule } | { readonly ok: false; readonly reason: string };

/** Decides on one request line; pure. `url` is the request target as received. */
export function judge(rules: readonly ApiRule[], method: string, url: string): Verdict {
  if (!url.startsWith('/')) return { ok: false, reason: 'request target is not a path' };
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  if (url.includes('#')) return { ok: false, reason: 'fragment in request target' };
  if (!PATH_CHARS.test(rawPath) || rawPath.includes('//') || /(^|\/)\.\.?(\/|$)/.test(rawPath)) return { ok: false, reason: 'path not in canonical form' };
  const path = rawPath.replace(VERSION_PREFIX, '');
  for (const rule of rules) {
    if (rule.path.test(path) && rule.methods.includes(method)) return { ok: true, rule };
  }
  return { ok: false, reason: 'not on the allow list' };
}
