import type { FuzzCase } from './generator.js';

/**
 * What one case did on one engine, as the fuzz harness saw it, and the
 * invariants every engine must keep whatever the input. Pure: a check reads
 * an observation and returns the broken rules in words.
 */

export type Fields = readonly (readonly [string, string])[];

export interface SeenRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: Fields;
  readonly body: Buffer;
  readonly chunked: boolean;
}

export interface SeenResponse {
  readonly status: number;
  readonly headers: Fields;
  readonly body: Buffer;
  readonly trailers: Fields;
}

export interface Observation {
  /** Responses the client read on its connection (interim ones included), in order. */
  readonly responses: readonly SeenResponse[];
  /** The client's connection closed before a final response, or with a response cut short. */
  readonly cut: boolean;
  /** Requests the backend received while the case ran. */
  readonly backend: readonly SeenRequest[];
  /** Transport failures counted against the backend during the case. */
  readonly blamed: number;
  /** A second client on its own connection, right after: the target it got an answer for (null: no answer). */
  readonly victim: string | null;
  readonly victimExpected: string;
  /** A follow-up request on the case's own connection, when it stayed open: what it got (null: none sent or no answer). */
  readonly followUp: string | null;
  readonly followUpExpected: string | null;
  /** Uncaught errors in the process while the case ran. */
  readonly crashes: readonly string[];
}

const HOP_BY_HOP_REQUEST = new Set(['keep-alive', 'proxy-connection', 'te', 'trailer', 'http2-settings', 'transfer_encoding', 'expect']);
const HOP_BY_HOP_RESPONSE = new Set(['proxy-connection', 'trailer', 'upgrade']);
const FORBIDDEN_TRAILERS = new Set(['content-length', 'transfer-encoding', 'host', 'set-cookie', 'connection']);

function values(fields: Fields, name: string): string[] {
  return fields.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/** The final response the client got, if any. */
export function finalResponse(o: Observation): SeenResponse | undefined {
  return o.responses.find((r) => r.status >= 200);
}

/** The broken rules for `c` on one engine; empty when it held. */
export function check(c: FuzzCase, o: Observation): string[] {
  const out: string[] = [];
  if (o.crashes.length > 0) out.push(`the balancer threw: ${o.crashes.join('; ')}`);
  if (o.victim !== o.victimExpected)
    out.push(`a victim on another connection got ${o.victim === null ? 'no answer' : `the answer for ${o.victim}`} instead of ${o.victimExpected}`);
  if (o.followUpExpected !== null && o.followUp !== null && o.followUp !== o.followUpExpected)
    out.push(`the next request on the same connection got the answer for ${o.followUp}`);
  for (const r of o.responses) {
    if (values(r.headers, 'content-length').length > 0 && values(r.headers, 'transfer-encoding').length > 0) out.push('the client saw two framings');
    if (values(r.headers, 'content-length').length > 1) out.push('the client saw two Content-Lengths');
    if (r.body.includes('POISON') || r.body.includes('/smuggled')) out.push('the client saw bytes from another response');
    for (const [n] of r.trailers) if (FORBIDDEN_TRAILERS.has(n.toLowerCase())) out.push(`the client saw ${n} in trailers`);
  }
  return c.kind === 'request' ? [...out, ...checkRequest(c, o)] : [...out, ...checkResponse(c, o)];
}

function checkRequest(c: Extract<FuzzCase, { kind: 'request' }>, o: Observation): string[] {
  const out: string[] = [];
  const sent = c.pipelined === null ? 1 : 2;
  if (o.backend.length > sent) out.push(`the backend received ${o.backend.length} requests for ${sent}`);
  for (const q of o.backend) {
    if (q.target.includes('smuggled')) out.push('a request hidden in a body reached the backend');
    if (q.target === c.pipelined) continue;
    const hosts = values(q.headers, 'host');
    if (hosts.length !== 1) out.push(`the backend saw ${hosts.length} Host fields`);
    else if (/[\s@/]/.test(hosts[0]!)) out.push(`the backend saw an invalid Host ${JSON.stringify(hosts[0])}`);
    if (!(q.target.startsWith('/') || q.target === '*')) out.push(`the backend saw a target not in origin form: ${q.target}`);
    for (const [n] of q.headers) {
      if (n.includes('_')) out.push(`the backend saw the name ${n}`);
      if (HOP_BY_HOP_REQUEST.has(n.toLowerCase())) out.push(`the backend saw the hop-by-hop field ${n}`);
    }
    for (const v of values(q.headers, 'connection'))
      for (const t of v.split(','))
        if (!['keep-alive', 'close', 'upgrade', ''].includes(t.trim().toLowerCase())) out.push(`the backend saw Connection naming ${t.trim()}`);
    if (values(q.headers, 'content-length').length > 0 && values(q.headers, 'transfer-encoding').length > 0) out.push('the backend saw two framings');
    if (values(q.headers, 'forwarded').length > 0 || values(q.headers, 'x-real-ip').length > 0) out.push('the backend saw an untrusted Forwarded or X-Real-IP');
    const xff = values(q.headers, 'x-forwarded-for');
    if (xff.length !== 1 || xff[0] !== '127.0.0.1') out.push(`the backend saw X-Forwarded-For ${JSON.stringify(xff)}`);
    if (c.body !== null && !q.body.equals(c.body)) out.push(`the backend got a body of ${q.body.length} bytes for one of ${c.body.length}`);
  }
  const final = finalResponse(o);
  const forwarded = o.backend.filter((q) => q.target !== c.pipelined);
  if (forwarded.length === 0) {
    // Nothing reached the backend: whatever went wrong was not its doing.
    if (o.blamed > 0) out.push('the backend was blamed for a request it never received');
    if (final !== undefined && (final.status === 502 || final.status === 504))
      out.push(`the client got ${final.status} for a request the backend never received`);
  } else if (final !== undefined && final.status !== 200) out.push(`the client got ${final.status} although its request was forwarded and answered 200`);
  return out;
}

function checkResponse(c: Extract<FuzzCase, { kind: 'response' }>, o: Observation): string[] {
  const out: string[] = [];
  if (o.backend.length !== 1) out.push(`the backend received ${o.backend.length} requests for one`);
  const final = finalResponse(o);
  if (final !== undefined) {
    for (const [n, v] of final.headers) {
      const name = n.toLowerCase();
      if (HOP_BY_HOP_RESPONSE.has(name)) out.push(`the client saw the field ${n}`);
      if (name === 'keep-alive' && v === 'timeout=1') out.push('the client saw the backend’s Keep-Alive');
      if (name === 'x-secret' && c.mutations.includes('Connection names X-Secret')) out.push('the client saw a field the backend’s Connection named');
    }
    const noBody = c.head || final.status === 204 || final.status === 304;
    if (!noBody && final.status < 500 && !o.cut && final.body.length > 0 && !final.body.equals(Buffer.from(`body-${c.n}`)))
      out.push(`the client got a body it was not sent: ${JSON.stringify(final.body.toString('latin1').slice(0, 40))}`);
    if (final.status === 204 && values(final.headers, 'content-length').length > 0) out.push('the client saw Content-Length on a 204');
  }
  return out;
}

/** Request cases: whether the request was forwarded must not depend on the engine. */
export function disagreement(c: Extract<FuzzCase, { kind: 'request' }>, byEngine: ReadonlyMap<string, Observation>): string | undefined {
  const verdicts = [...byEngine].map(([engine, o]) => [engine, o.backend.some((q) => q.target !== c.pipelined) ? 'forwarded' : 'refused'] as const);
  const first = verdicts[0]?.[1];
  return verdicts.every(([, v]) => v === first) ? undefined : `engines disagree: ${verdicts.map(([e, v]) => `${e} ${v}`).join(', ')}`;
}
