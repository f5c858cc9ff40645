/**
 * The common message, read without llhttp: a whole HTTP/1.1 request without
 * a body, or a whole HTTP/1.1 response with a Content-Length body, alone in
 * one read. Calling into Node's parser binding costs more than the parse
 * itself (a crossing into C++ and several back into JavaScript, a string per
 * header, a copy of the body): about a fifth of a request's CPU at 256
 * connections (docs/performance.md).
 *
 * Each function accepts a strict subset of what llhttp accepts and reads it
 * the same way; anything else (another version or framing, a body, a 1xx,
 * 204 or 304, a character llhttp might treat differently, an Upgrade or an
 * unusual Connection value, a partial message, bytes after the message)
 * returns null and the caller hands the bytes to llhttp, which decides as
 * before. The differential test (tests/unit/simple-message.test.ts) holds
 * them to that.
 */
export interface SimpleResponse {
  readonly status: number;
  readonly statusText: string;
  /** Name, value, name, value ... as received (llhttp's shape). */
  readonly headers: string[];
  readonly keepAlive: boolean;
  /** Offset of the body in the buffer; it runs to the buffer's end. */
  readonly bodyStart: number;
}

export interface SimpleRequest {
  readonly method: string;
  /** The method's index in SIMPLE_METHODS. */
  readonly methodIndex: number;
  readonly url: string;
  readonly headers: string[];
  readonly keepAlive: boolean;
}

/** Messages longer than this go to llhttp (which enforces the header size limit). */
export const SIMPLE_HEAD_LIMIT = 8 * 1024;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

function table(test: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = test(c) ? 1 : 0;
  return t;
}
const TCHARS = "!#$%&'*+-.^_`|~";
const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** RFC 9110 tchar. */
const TOKEN = table((c) => isAlnum(c) || TCHARS.includes(String.fromCharCode(c)));
/** Field-value and reason-phrase bytes: VCHAR, SP, HTAB, obs-text. */
const TEXT = table((c) => c === HTAB || (c >= SP && c !== 127));
/** Origin-form target bytes taken here: unreserved, sub-delims, ':', '@', '/', '?', '%' (no fragment). */
const TARGET = table((c) => isAlnum(c) || "-._~!$&'()*+,;=:@/?%".includes(String.fromCharCode(c)));

/** Methods taken here: those whose requests have no body unless they declare one (and then go to llhttp). */
export const SIMPLE_METHODS: readonly string[] = ['GET', 'HEAD', 'DELETE', 'OPTIONS'];
const METHOD_BYTES = SIMPLE_METHODS.map((m) => Buffer.from(`${m} `, 'latin1'));

/** Fields one message may have here; more go to llhttp. */
const MAX_FIELDS = 100;
/** Where each field's name and value start and end, found by readFields (one parse at a time). */
const spans = new Int32Array(MAX_FIELDS * 4);
/** What readFields found besides the spans. */
const found = { fields: 0, length: -1, keepAlive: true };

const CONTENT_LENGTH = Buffer.from('content-length');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const UPGRADE = Buffer.from('upgrade');
const CONNECTION = Buffer.from('connection');
const CLOSE = Buffer.from('close');
const KEEP_ALIVE = Buffer.from('keep-alive');

/** b[at, at + lower.length) equals `lower` ignoring ASCII case (`lower` is letters and '-'; b holds no CR there). */
function sameLower(b: Buffer, at: number, end: number, lower: Buffer): boolean {
  if (end - at !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) if ((b[at + k]! | 0x20) !== lower[k]) return false;
  return true;
}

/**
 * The header block from `i` to its empty line: the offset after it, or -1 for anything
 * outside the subset. Fills `spans` and `found`. Reads bytes only; strings are made once
 * the whole head is known good (a Buffer slice into a string is a call into C++).
 */
function readFields(b: Buffer, i: number, limit: number): number {
  found.fields = 0;
  found.length = -1;
  found.keepAlive = true;
  let f = 0;
  for (;;) {
    if (i + 1 >= limit) return -1;
    if (b[i] === CR) {
      if (b[i + 1] !== LF) return -1;
      found.fields = f;
      return i + 2;
    }
    if (f === MAX_FIELDS) return -1;
    const nameStart = i;
    while (i < limit && TOKEN[b[i]!] === 1) i++;
    if (i === nameStart || i >= limit || b[i] !== COLON) return -1;
    const nameEnd = i++;
    while (i < limit && (b[i] === SP || b[i] === HTAB)) i++;
    const valueStart = i;
    while (i < limit && TEXT[b[i]!] === 1) i++;
    if (i + 1 >= limit || b[i] !== CR || b[i + 1] !== LF) return -1;
    const valueEnd = i;
    // Trailing whitespace: llhttp's handling of it is not this function's to copy.
    if (valueEnd > valueStart && (b[valueEnd - 1] === SP || b[valueEnd - 1] === HTAB)) return -1;
    i += 2;
    const len = nameEnd - nameStart;
    if (len === 14 && sameLower(b, nameStart, nameEnd, CONTENT_LENGTH)) {
      const digits = valueEnd - valueStart;
      if (found.length >= 0 || digits === 0 || digits > 15) return -1;
      let n = 0;
      for (let k = valueStart; k < valueEnd; k++) {
        const c = b[k]! - 48;
        if (c < 0 || c > 9) return -1;
        n = n * 10 + c;
      }
      found.length = n;
    } else if ((len === 17 && sameLower(b, nameStart, nameEnd, TRANSFER_ENCODING)) || (len === 7 && sameLower(b, nameStart, nameEnd, UPGRADE))) return -1;
    else if (len === 10 && sameLower(b, nameStart, nameEnd, CONNECTION)) {
      if (sameLower(b, valueStart, valueEnd, CLOSE)) found.keepAlive = false;
      else if (!sameLower(b, valueStart, valueEnd, KEEP_ALIVE)) return -1;
    }
    const o = f++ * 4;
    spans[o] = nameStart;
    spans[o + 1] = nameEnd;
    spans[o + 2] = valueStart;
    spans[o + 3] = valueEnd;
  }
}

/** The fields readFields found, as llhttp hands them over; `text` is the buffer from `base` as a string. */
function fieldStrings(text: string, base: number): string[] {
  const n = found.fields;
  const headers = new Array<string>(n * 2);
  for (let f = 0; f < n; f++) {
    const o = f * 4;
    headers[f * 2] = text.slice(spans[o]! - base, spans[o + 1]! - base);
    headers[f * 2 + 1] = text.slice(spans[o + 2]! - base, spans[o + 3]! - base);
  }
  return headers;
}

/** `b` from `at` reads "HTTP/1.1". */
function isHttp11(b: Buffer, at: number): boolean {
  return (
    b[at] === 0x48 &&
    b[at + 1] === 0x54 &&
    b[at + 2] === 0x54 &&
    b[at + 3] === 0x50 &&
    b[at + 4] === 0x2f &&
    b[at + 5] === 0x31 &&
    b[at + 6] === 0x2e &&
    b[at + 7] === 0x31
  );
}

/** Parses `b` as one whole simple response, or returns null (llhttp's turn). */
export function parseSimpleResponse(b: Buffer): SimpleResponse | null {
  const n = b.length;
  // "HTTP/1.1" SP digit digit digit SP
  if (n < 17 || !isHttp11(b, 0) || b[8] !== SP) return null;
  const d0 = b[9]! - 48;
  const d1 = b[10]! - 48;
  const d2 = b[11]! - 48;
  if (d0 < 2 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || b[12] !== SP) return null;
  const status = d0 * 100 + d1 * 10 + d2;
  if (status === 204 || status === 304) return null;
  const limit = Math.min(n, SIMPLE_HEAD_LIMIT);
  let i = 13;
  while (i < limit && TEXT[b[i]!] === 1) i++;
  // A reason phrase of at least one byte, then CRLF.
  if (i === 13 || i + 1 >= limit || b[i] !== CR || b[i + 1] !== LF) return null;
  const reasonEnd = i;
  const bodyStart = readFields(b, i + 2, limit);
  if (bodyStart < 0 || found.length < 0 || n - bodyStart !== found.length) return null;
  const text = b.toString('latin1', 13, bodyStart);
  return { status, statusText: text.slice(0, reasonEnd - 13), headers: fieldStrings(text, 13), keepAlive: found.keepAlive, bodyStart };
}

/**
 * Parses `b` as one whole simple request (no body, nothing after it), or returns
 * null (llhttp's turn). `maxHeaderSize`: the parser's limit, which a taken request
 * stays under (0: only SIMPLE_HEAD_LIMIT).
 */
export function parseSimpleRequest(b: Buffer, maxHeaderSize: number): SimpleRequest | null {
  const n = b.length;
  if (n > SIMPLE_HEAD_LIMIT || (maxHeaderSize > 0 && n >= maxHeaderSize)) return null;
  let m = 0;
  for (; m < METHOD_BYTES.length; m++) {
    const p = METHOD_BYTES[m]!;
    let k = 0;
    while (k < p.length && b[k] === p[k]) k++;
    if (k === p.length) break;
  }
  if (m === METHOD_BYTES.length) return null;
  const start = METHOD_BYTES[m]!.length;
  // Origin-form: "/" then target bytes, SP "HTTP/1.1" CRLF.
  if (b[start] !== 0x2f) return null;
  let i = start + 1;
  while (i < n && TARGET[b[i]!] === 1) i++;
  if (i + 10 >= n || b[i] !== SP || !isHttp11(b, i + 1) || b[i + 9] !== CR || b[i + 10] !== LF) return null;
  const targetEnd = i;
  const end = readFields(b, i + 11, n);
  if (end !== n || found.length >= 0) return null;
  const text = b.toString('latin1', start, end);
  return { method: SIMPLE_METHODS[m]!, methodIndex: m, url: text.slice(0, targetEnd - start), headers: fieldStrings(text, start), keepAlive: found.keepAlive };
}
