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
  /** Inspects a JSON body of at most MAX_CHECKED_BODY bytes; absent: no body allowed. */
  readonly body?: (json: unknown) => boolean;
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

const VERSION_PREFIX = /^\/v[0-9]{1,2}\.[0-9]{1,3}(?=\/)/;
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
