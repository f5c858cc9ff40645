/**
 * The one response policy every engine applies to what a backend sends
 * before it reaches the client (RFC 9110 6.5, 7.6.1; RFC 9112 6):
 *
 * - hop-by-hop fields dropped: Connection and every field it names,
 *   Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, Trailer;
 * - the client sees one framing only, the one the engine writes: the
 *   backend's Content-Length is kept only when the backend framed the body by
 *   length (never beside a transfer coding) and never on 1xx or 204;
 * - trailer fields that would change framing, routing, authentication or how
 *   the content is read are dropped (RFC 9110 6.5.1).
 */

/** What the engine needs to know to frame the body for the client. */
export interface ResponseShape {
  /** The backend's Content-Length is kept: the engine copies the body as it is. */
  hasLength: boolean;
  hasDate: boolean;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer']);
// Only names of these lengths are lowercased and compared.
const WATCHED = new Set<number>([4, 7, 10, 14, 16, 17]);

/** What one pass over a response head learned, besides which fields it kept. */
interface Scan {
  hasLength: boolean;
  hasDate: boolean;
  chunked: boolean;
  /** Connection values that may name fields (anything but keep-alive / close). */
  named: string | undefined;
}

/** The rule for one field: true to keep it. Notes what matters for framing in `s`. */
function keepField(name: string, value: string, noLength: boolean, s: Scan): boolean {
  if (!WATCHED.has(name.length)) return true;
  const lower = name.toLowerCase();
  if (lower === 'date') s.hasDate = true;
  else if (lower === 'content-length') {
    if (noLength || s.hasLength) return false;
    s.hasLength = true;
  } else if (HOP_BY_HOP.has(lower)) {
    if (lower === 'connection') {
      // The usual values name no field: only anything else is taken apart (after the pass).
      if (value !== 'keep-alive' && value !== 'close' && value !== 'Keep-Alive' && value !== 'Close') {
        const lv = value.length === 10 || value.length === 5 ? value.toLowerCase() : '';
        if (lv !== 'keep-alive' && lv !== 'close') s.named = s.named === undefined ? value : `${s.named},${value}`;
      }
    } else if (lower === 'transfer-encoding') s.chunked = true;
    return false;
  }
  return true;
}

/** After the pass: what else must go (a second framing, fields Connection named); null when nothing. */
function secondPass(s: Scan): Set<string> | null {
  let drop = s.named === undefined ? null : connectionNamed(s.named);
  // Never both framings: a transfer coding wins over Content-Length (RFC 9112 6.3).
  if (s.chunked && s.hasLength) (drop ??= new Set()).add('content-length');
  if (drop !== null) {
    if (drop.has('content-length')) s.hasLength = false;
    if (drop.has('date')) s.hasDate = false;
  }
  return drop;
}

/**
 * Writes the backend's header list into `out` (flat [name, value, ...])
 * minus what the policy drops, and fills `shape`. `noLength`: the status
 * allows no Content-Length (1xx, 204), so any is dropped.
 */
export function filterResponseHeaders(raw: readonly string[], noLength: boolean, out: string[], shape: ResponseShape): void {
  const s: Scan = { hasLength: false, hasDate: false, chunked: false, named: undefined };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (keepField(name, value, noLength, s)) out.push(name, value);
  }
  const drop = secondPass(s);
  if (drop !== null) dropFrom(out, (n) => drop.has(n));
  shape.hasLength = s.hasLength;
  shape.hasDate = s.hasDate;
}

/**
 * The same policy, written as header text (`name: value\r\n` per kept
 * field) for the raw engine, in one pass unless something beyond the
 * hop-by-hop fields must go.
 */
export function responseFieldsText(raw: readonly string[], noLength: boolean, shape: ResponseShape): string {
  const s: Scan = { hasLength: false, hasDate: false, chunked: false, named: undefined };
  let text = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (keepField(name, value, noLength, s)) text += `${name}: ${value}\r\n`;
  }
  if (s.named !== undefined || (s.chunked && s.hasLength)) {
    const kept: string[] = [];
    filterResponseHeaders(raw, noLength, kept, shape);
    text = '';
    for (let i = 0; i < kept.length; i += 2) text += `${kept[i]}: ${kept[i + 1]}\r\n`;
    return text;
  }
  shape.hasLength = s.hasLength;
  shape.hasDate = s.hasDate;
  return text;
}

/** Trailer fields never passed on (RFC 9110 6.5.1: framing, routing, controls, authentication, content metadata). */
const FORBIDDEN_TRAILERS = new Set([
  'content-length',
  'transfer-encoding',
  'trailer',
  'te',
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'content-encoding',
  'content-type',
  'content-range',
  'cache-control',
  'expect',
  'max-forwards',
  'pragma',
  'range',
  'age',
  'expires',
  'date',
  'location',
  'retry-after',
  'vary',
  'warning',
  'authorization',
  'proxy-authenticate',
  'proxy-authorization',
  'www-authenticate',
  'set-cookie',
  'cookie',
  'via',
]);

/** The trailer fields that may be passed on, flat; null when none is left. */
export function filterTrailers(raw: readonly string[]): string[] | null {
  let out: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.includes('_') || FORBIDDEN_TRAILERS.has(name.toLowerCase())) continue;
    (out ??= []).push(name, raw[i + 1]!);
  }
  return out;
}

/** Field names a Connection value lists (its options close / keep-alive / upgrade aside); null when none. */
function connectionNamed(value: string): Set<string> | null {
  let set: Set<string> | null = null;
  for (const t of value.split(',')) {
    const n = t.trim().toLowerCase();
    if (n === '' || n === 'close' || n === 'keep-alive' || n === 'upgrade') continue;
    (set ??= new Set()).add(n);
  }
  return set;
}

function dropFrom(list: string[], drop: (lowerName: string) => boolean): void {
  let w = 0;
  for (let r = 0; r < list.length; r += 2) {
    if (drop(list[r]!.toLowerCase())) continue;
    list[w++] = list[r]!;
    list[w++] = list[r + 1]!;
  }
  list.length = w;
}
