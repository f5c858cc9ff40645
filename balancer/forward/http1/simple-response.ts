/**
 * The common backend answer, read without llhttp: a whole HTTP/1.1 response
 * in one read, with a Content-Length body and nothing after it. Calling into
 * Node's parser binding costs more than the parse itself (a crossing into
 * C++ and three back into JavaScript, a string per header, a copy of the
 * body), about a tenth of a request's CPU at 256 connections
 * (docs/performance.md).
 *
 * It accepts a strict subset of what llhttp accepts and reads it the same
 * way; anything else (another version or framing, a 1xx, 204 or 304, a
 * character llhttp might treat differently, an unusual Connection value, a
 * partial message, bytes after the body) returns null and the caller hands
 * the bytes to llhttp, which decides as before. The differential test
 * (tests/unit/simple-response.test.ts) holds it to that.
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

/** Heads longer than this go to llhttp (which enforces Node's header size limit). */
export const SIMPLE_HEAD_LIMIT = 8 * 1024;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** RFC 9110 tchar. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
/** Field-value and reason-phrase bytes: VCHAR, SP, HTAB, obs-text. */
const TEXT = new Uint8Array(256);
for (let c = 0; c < 256; c++) TEXT[c] = c === HTAB || (c >= SP && c !== 127) ? 1 : 0;

type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

/** Parses `b` as one whole simple response, or returns null (llhttp's turn). */
export function parseSimpleResponse(b: Buffer): SimpleResponse | null {
  const n = b.length;
  // "HTTP/1.1 " digit digit digit SP
  if (
    n < 17 ||
    b[0] !== 0x48 ||
    b[1] !== 0x54 ||
    b[2] !== 0x54 ||
    b[3] !== 0x50 ||
    b[4] !== 0x2f ||
    b[5] !== 0x31 ||
    b[6] !== 0x2e ||
    b[7] !== 0x31 ||
    b[8] !== SP
  ) {
    return null;
  }
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
  const text = b as Latin1;
  const statusText = text.latin1Slice(13, i);
  i += 2;
  const headers: string[] = [];
  let length = -1;
  let keepAlive = true;
  for (;;) {
    if (i + 1 >= limit) return null;
    if (b[i] === CR) {
      if (b[i + 1] !== LF) return null;
      i += 2;
      break;
    }
    const nameStart = i;
    while (i < limit && TOKEN[b[i]!] === 1) i++;
    if (i === nameStart || i >= limit || b[i] !== COLON) return null;
    const nameEnd = i++;
    while (i < limit && (b[i] === SP || b[i] === HTAB)) i++;
    const valueStart = i;
    while (i < limit && TEXT[b[i]!] === 1) i++;
    if (i + 1 >= limit || b[i] !== CR || b[i + 1] !== LF) return null;
    const valueEnd = i;
    // Trailing whitespace: llhttp's handling of it is not this function's to copy.
    if (valueEnd > valueStart && (b[valueEnd - 1] === SP || b[valueEnd - 1] === HTAB)) return null;
    i += 2;
    const name = text.latin1Slice(nameStart, nameEnd);
    const value = text.latin1Slice(valueStart, valueEnd);
    const len = nameEnd - nameStart;
    if (len === 14 || len === 17 || len === 10) {
      const lower = name.toLowerCase();
      if (lower === 'content-length') {
        if (length >= 0 || value.length === 0 || value.length > 15) return null;
        length = 0;
        for (let k = 0; k < value.length; k++) {
          const c = value.charCodeAt(k) - 48;
          if (c < 0 || c > 9) return null;
          length = length * 10 + c;
        }
      } else if (lower === 'transfer-encoding') return null;
      else if (lower === 'connection') {
        const v = value.toLowerCase();
        if (v === 'close') keepAlive = false;
        else if (v !== 'keep-alive') return null;
      }
    }
    headers.push(name, value);
  }
  if (length < 0 || n - i !== length) return null;
  return { status, statusText, headers, keepAlive, bodyStart: i };
}
