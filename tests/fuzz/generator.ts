/**
 * The fuzzer's cases: a seeded generator of request heads, bodies and
 * backend responses, mutated the ways request smuggling and response
 * desync are made (names, case, whitespace, duplicates, line endings,
 * sizes, Connection tokens, framing). Pure: the same seed and case number
 * give the same bytes on every machine.
 */

/** mulberry32: small, fast, good enough for test input. */
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The case `n` of `seed` has its own generator, so one case can be replayed alone. */
export function caseRng(seed: number, n: number): Rng {
  return new Rng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(n + 1, 0x85ebca77)) >>> 0);
}

export type Field = [name: string, value: string];

export interface RequestCase {
  readonly kind: 'request';
  readonly seed: number;
  readonly n: number;
  /** The bytes the client sends on its connection. */
  readonly bytes: Buffer;
  /** The path of the one request the client means to send (the backend echoes it). */
  readonly path: string;
  /** The body the client means, when its framing was not mutated (null: unknown after mutation). */
  readonly body: Buffer | null;
  /** A second request the client pipelines after the first (its path), or null. */
  readonly pipelined: string | null;
  /** What was done to the base request, for the report. */
  readonly mutations: readonly string[];
}

export interface ResponseCase {
  readonly kind: 'response';
  readonly seed: number;
  readonly n: number;
  /** The client's request: a plain GET (or HEAD) of `path`. */
  readonly bytes: Buffer;
  readonly path: string;
  readonly head: boolean;
  /** What the backend answers to it, byte for byte. */
  readonly response: Buffer;
  /** The backend closes the connection after it (a body delimited by the close). */
  readonly closeAfter: boolean;
  readonly mutations: readonly string[];
}

export type FuzzCase = RequestCase | ResponseCase;

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n';
const FRAMING_TOKENS = ['content-length', 'Content-Length', 'transfer-encoding', 'Transfer-Encoding'];
const CONNECTION_TOKENS = [
  'host',
  'Host',
  'keep-alive',
  'close',
  'x-extra',
  'te',
  'upgrade',
  'via',
  'x-forwarded-for',
  'X-Forwarded-Host',
  'x-request-id',
  'forwarded',
  'x-real-ip',
  'trailer',
];
const TE_VALUES = [
  'chunked',
  'Chunked',
  'CHUNKED',
  ' chunked',
  'chunked ',
  '\tchunked',
  'chunked, chunked',
  'gzip, chunked',
  'chunked, gzip',
  'identity',
  'xchunked',
  'chunked;x=1',
  '"chunked"',
  'chunk',
  'ch\x00unked',
  'chunked\x0b',
];
const HOSTS = ['t', 'a.example', 'a.example:8080', '[::1]:1', '127.0.0.1', '', 'user@evil.example', 'evil.example/x', 'a b', 'a:99999', 'a..b', 'x_y.example'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'HEAD', 'get', 'CONNECT', 'TRACE'];

/** Generates case `n` of `seed`: about two in three are request cases, the rest response cases. */
export function generate(seed: number, n: number, via: string | undefined): FuzzCase {
  const rng = caseRng(seed, n);
  return rng.chance(0.66) ? requestCase(rng, seed, n, via) : responseCase(rng, seed, n);
}

function requestCase(rng: Rng, seed: number, n: number, via: string | undefined): RequestCase {
  const path = `/fz/${n}`;
  const mutations: string[] = [];
  const kind = rng.pick(['none', 'length', 'chunked'] as const);
  const bodyText = rng.chance(0.5) ? SMUGGLED : 'x'.repeat(rng.pick([1, 5, 17, 300, 5000]));
  let body = kind === 'none' ? Buffer.alloc(0) : Buffer.from(bodyText, 'latin1');
  let method = kind === 'none' ? 'GET' : rng.pick(['POST', 'PUT', 'PATCH']);
  let target = path;
  let version = 'HTTP/1.1';
  const fields: Field[] = [['Host', 't']];
  let framingMutated = false;
  let pipelined: string | null = null;
  if (kind === 'length') fields.push(['Content-Length', String(body.length)]);
  if (kind === 'chunked') fields.push(['Transfer-Encoding', 'chunked']);
  if (rng.chance(0.3)) fields.push(['Accept', '*/*'], ['User-Agent', 'fuzz']);

  const steps = 1 + rng.int(3);
  for (let i = 0; i < steps; i++) {
    switch (rng.int(24)) {
      case 0:
      case 22:
      case 23: {
        // A framing field named in Connection is the smuggling the policy exists for: drawn often.
        const token = rng.chance(0.4) ? rng.pick(FRAMING_TOKENS) : rng.pick(CONNECTION_TOKENS);
        fields.push(['Connection', rng.chance(0.5) ? token : `keep-alive, ${token}`]);
        mutations.push(`Connection: ${token}`);
        if (/content-length|transfer-encoding/i.test(token)) framingMutated = true;
        break;
      }
      case 1: {
        const v = rng.pick(TE_VALUES);
        fields.push([rng.pick(['Transfer-Encoding', 'transfer-encoding', 'Transfer_Encoding', 'Transfer-Encoding ', 'TRANSFER-ENCODING']), v]);
        mutations.push(`TE ${JSON.stringify(v)}`);
        framingMutated = true;
        break;
      }
      case 2: {
        const v = rng.pick([
          String(body.length),
          `+${body.length}`,
          `0${body.length}`,
          `${body.length} `,
          `${body.length},${body.length}`,
          '-1',
          '99999999999999999999',
          String(body.length + 3),
          '0',
          ` ${body.length}`,
          `0x${body.length.toString(16)}`,
        ]);
        fields.push([rng.pick(['Content-Length', 'content-length', 'Content_Length', 'Content-Length ']), v]);
        mutations.push(`CL ${JSON.stringify(v)}`);
        framingMutated = true;
        break;
      }
      case 3: {
        const h = rng.pick(HOSTS);
        const at = fields.findIndex(([name]) => name === 'Host');
        if (at < 0 || rng.chance(0.5)) fields.push(['Host', h]);
        else fields[at] = ['Host', h];
        mutations.push(`Host ${JSON.stringify(h)}`);
        break;
      }
      case 4: {
        const at = fields.findIndex(([name]) => name === 'Host');
        if (at >= 0) fields.splice(at, 1);
        mutations.push('no Host');
        break;
      }
      case 5: {
        const authority = rng.pick(['evil.example', 'a.example:8080', 'user@evil.example', '[::1]', 't']);
        target = `${rng.pick(['http', 'https', 'HTTP', 'ftp'])}://${authority}${rng.pick([path, '', `?q=${n}`])}`;
        mutations.push(`absolute ${target}`);
        break;
      }
      case 6:
        version = rng.pick(['HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'http/1.1']);
        mutations.push(version);
        break;
      case 7:
        method = rng.pick(METHODS);
        mutations.push(`method ${method}`);
        break;
      case 8: {
        const i2 = rng.int(fields.length);
        if (fields[i2]) {
          fields[i2] = [flipCase(rng, fields[i2][0]), fields[i2][1]];
          mutations.push('name case');
        }
        break;
      }
      case 9: {
        const i2 = rng.int(fields.length);
        if (fields[i2]) {
          const ws = rng.pick([' ', '\t', '  ', '']);
          fields[i2] = [fields[i2][0], `${ws}${fields[i2][1]}${rng.pick([' ', '\t', ''])}`];
          mutations.push('value whitespace');
        }
        break;
      }
      case 10: {
        const i2 = rng.int(fields.length);
        if (fields[i2]) {
          fields.push([fields[i2][0], fields[i2][1]]);
          mutations.push(`duplicate ${fields[i2][0]}`);
          if (/content-length|transfer-encoding/i.test(fields[i2][0])) framingMutated = true;
        }
        break;
      }
      case 11:
        fields.push([rng.pick(['X_Custom', 'Transfer_Encoding', 'Content_Length', 'x_forwarded_for']), rng.pick(['1', 'chunked', '5'])]);
        mutations.push('underscore name');
        break;
      case 12:
        fields.push(
          ...rng.pick<Field[]>([
            [['Forwarded', 'for=6.6.6.6']],
            [['X-Real-IP', '6.6.6.6']],
            [['X-Forwarded-For', '6.6.6.6']],
            [['X-Forwarded-Host', 'evil.example']],
            [
              ['X-Forwarded-Proto', 'https'],
              ['X-Forwarded-Port', '1'],
            ],
          ]),
        );
        mutations.push('forwarded fields');
        break;
      case 13:
        fields.push(
          ['Upgrade', rng.pick(['h2c', 'websocket', 'foo/1'])],
          ['Connection', rng.pick(['Upgrade', 'Upgrade, HTTP2-Settings'])],
          ['HTTP2-Settings', 'AAMAAABkAAQCAAAAAAIAAAAA'],
        );
        mutations.push('upgrade');
        break;
      case 14:
        fields.push(['Via', rng.pick(['1.1 other', `1.1 ${via ?? 'switchyard-none'}`, `1.0 a, 1.1 ${via ?? 'x'} (c)`])]);
        mutations.push('via');
        break;
      case 15: {
        const count = rng.pick([50, 99, 100, 101, 200, 2100]);
        for (let k = 0; k < count; k++) fields.push([`X-F${k}`, 'v']);
        mutations.push(`${count} fields`);
        break;
      }
      case 16:
        fields.push(['X-Ctl', rng.pick(['a\x00b', 'a\x01b', 'a\x7fb', 'a\rb', 'ok\x80'])]);
        mutations.push('control byte');
        break;
      case 17:
        fields.push(['Expect', rng.pick(['100-continue', '200-ok', '100-Continue'])]);
        mutations.push('expect');
        break;
      case 18:
        fields.push(['X-Folded', 'a'], ['', ' folded']);
        mutations.push('obs-fold');
        break;
      case 19:
        if ((kind === 'length' || kind === 'none') && pipelined === null) {
          pipelined = `/pipelined-${n}`;
          mutations.push('pipelined request');
        }
        break;
      case 20:
        fields.push(['X-Request-Id', rng.pick(['abc-1', 'has space', 'x'.repeat(300), '\u00e9'])]);
        mutations.push('request id');
        break;
      default:
        fields.push(['Keep-Alive', 'timeout=5'], ['TE', 'trailers'], ['Proxy-Connection', 'keep-alive']);
        mutations.push('hop-by-hop');
    }
  }

  const eol = rng.chance(0.08) ? '\n' : '\r\n';
  if (eol === '\n') mutations.push('bare LF');
  let head = `${method} ${target} ${version}${eol}`;
  for (const [name, value] of fields)
    head += name === '' ? `${value}${eol}` : `${name}:${value.startsWith(' ') || value.startsWith('\t') ? '' : ' '}${value}${eol}`;
  head += eol;
  const chunked = fields.some(([name]) => name.trim().toLowerCase() === 'transfer-encoding');
  let wire: Buffer;
  if (kind === 'chunked' || (chunked && kind !== 'none')) wire = Buffer.concat([Buffer.from(head, 'latin1'), chunk(rng, body, mutations)]);
  else wire = Buffer.concat([Buffer.from(head, 'latin1'), body]);
  if (mutations.includes('chunk size')) framingMutated = true;
  if (pipelined !== null) wire = Buffer.concat([wire, Buffer.from(`GET ${pipelined} HTTP/1.1\r\nHost: t\r\n\r\n`, 'latin1')]);
  return { kind: 'request', seed, n, bytes: wire, path, body: framingMutated ? null : body, pipelined, mutations };
}

/** A chunked body, sometimes with hostile chunk lines. */
function chunk(rng: Rng, body: Buffer, mutations: string[]): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < body.length) {
    const size = Math.min(body.length - i, 1 + rng.int(64));
    let line = size.toString(16);
    if (rng.chance(0.06)) {
      line = rng.pick([`0${line}`, line.toUpperCase(), `${line};ext=1`, `${line} `, `FFFFFFFFFFFFFFFF${line}`, `-${line}`, `${line};x=\x01`]);
      mutations.push('chunk size');
    }
    parts.push(Buffer.from(`${line}\r\n`, 'latin1'), body.subarray(i, i + size), Buffer.from('\r\n'));
    i += size;
  }
  parts.push(Buffer.from(rng.chance(0.1) ? '0\r\nX-Trailer: 1\r\n\r\n' : '0\r\n\r\n', 'latin1'));
  return Buffer.concat(parts);
}

function responseCase(rng: Rng, seed: number, n: number): ResponseCase {
  const path = `/fr/${n}`;
  const head = rng.chance(0.15);
  const mutations: string[] = [];
  const status = rng.pick([200, 200, 200, 204, 304, 404, 500, 201]);
  const body = Buffer.from(`body-${n}`);
  const framing = rng.pick(['length', 'chunked', 'close'] as const);
  const fields: Field[] = [['X-Case', String(n)]];
  if (framing === 'length') fields.push(['Content-Length', String(body.length)]);
  if (framing === 'chunked') fields.push(['Transfer-Encoding', 'chunked']);
  let trailers = '';
  let prefix = '';
  let after = '';
  const steps = 1 + rng.int(3);
  for (let i = 0; i < steps; i++) {
    switch (rng.int(10)) {
      case 0: {
        const named = rng.pick(['x-secret', 'close', 'keep-alive, x-secret', 'content-length', 'transfer-encoding']);
        fields.push(['Connection', named], ['X-Secret', '1']);
        mutations.push(named.includes('x-secret') ? 'Connection names X-Secret' : `Connection: ${named}`);
        break;
      }
      case 1:
        fields.push([rng.pick(['Content-Length', 'Transfer-Encoding']), rng.pick([String(body.length), 'chunked', String(body.length + 5)])]);
        mutations.push('second framing');
        break;
      case 2:
        trailers = rng.pick(['Content-Length: 5\r\n', 'Transfer-Encoding: chunked\r\n', 'X-Sum: 1\r\n', 'Set-Cookie: a=1\r\nHost: evil\r\n']);
        mutations.push('trailers');
        break;
      case 3:
        prefix = rng.pick([
          'HTTP/1.1 100 Continue\r\n\r\n',
          'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n',
          'HTTP/1.1 100 Continue\r\n\r\n'.repeat(40),
          'HTTP/1.1 101 Switching Protocols\r\n\r\n',
        ]);
        mutations.push('interim');
        break;
      case 4:
        after = rng.pick(['HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON', 'garbage', '\r\n']);
        mutations.push('bytes after');
        break;
      case 5:
        fields.push(['Keep-Alive', 'timeout=1'], ['Proxy-Connection', 'close'], ['Upgrade', 'h2c'], ['Trailer', 'X-Sum']);
        mutations.push('hop-by-hop');
        break;
      case 6:
        fields.push([rng.pick(['X-Under_Score', 'content-length ']), '1']);
        mutations.push('odd name');
        break;
      case 7:
        fields.push(['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']);
        mutations.push('set-cookie');
        break;
      case 8:
        fields.push(['X-Ctl', rng.pick(['a\x00b', 'a\x01b', 'ok'])]);
        mutations.push('control byte');
        break;
      default:
        fields.push(['Date', 'Thu, 01 Jan 1970 00:00:00 GMT']);
        mutations.push('date');
    }
  }
  let text = `${prefix}HTTP/1.1 ${status} X\r\n`;
  for (const [name, value] of fields) text += `${name}: ${value}\r\n`;
  text += '\r\n';
  const noBody = status === 204 || status === 304 || head;
  let payload: Buffer;
  if (framing === 'chunked') payload = Buffer.from(`${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n${trailers}\r\n`, 'latin1');
  else payload = body;
  // Bytes after a body delimited by the close would be part of that body.
  const trailing = framing === 'close' ? '' : after;
  const response = Buffer.concat([Buffer.from(text, 'latin1'), noBody && rng.chance(0.5) ? Buffer.alloc(0) : payload, Buffer.from(trailing, 'latin1')]);
  const request = Buffer.from(`${head ? 'HEAD' : 'GET'} ${path} HTTP/1.1\r\nHost: t\r\n\r\n`, 'latin1');
  return { kind: 'response', seed, n, bytes: request, path, head, response, closeAfter: framing === 'close', mutations: [...mutations, framing] };
}

function flipCase(rng: Rng, s: string): string {
  let out = '';
  for (const c of s) out += rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase();
  return out;
}
