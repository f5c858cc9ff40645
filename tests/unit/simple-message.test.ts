import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createParser, isParseError, kOnBody, kOnHeaders, kOnHeadersComplete, kOnMessageComplete, METHODS } from '../../balancer/forward/http1/http-parser.js';
import { parseSimpleRequest, parseSimpleResponse, SIMPLE_HEAD_LIMIT, SIMPLE_METHODS } from '../../balancer/forward/http1/simple-message.js';

interface LlhttpReading {
  readonly ok: boolean;
  readonly messages: number;
  readonly boundary: boolean;
  readonly status?: number;
  readonly statusText?: string;
  readonly headers?: string[];
  readonly keepAlive?: boolean;
  readonly upgrade?: boolean;
  readonly body?: string;
}

/** What Node's llhttp (the engine's strict parser) makes of the same bytes, in one execute(). */
function llhttpReads(bytes: Buffer): LlhttpReading {
  const p = createParser('response', 0);
  const pending: string[] = [];
  let head: Pick<LlhttpReading, 'status' | 'statusText' | 'headers' | 'keepAlive' | 'upgrade'> | undefined;
  const body: Buffer[] = [];
  let messages = 0;
  p[kOnHeaders] = (h: string[]) => pending.push(...h);
  p[kOnHeadersComplete] = (
    _ma: number,
    _mi: number,
    h: string[] | undefined,
    _m: number,
    _u: string,
    status: number,
    statusText: string,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    head ??= { status, statusText, headers: h ?? pending.splice(0), keepAlive, upgrade };
    return 0;
  };
  p[kOnBody] = (c: Buffer) => body.push(Buffer.from(c));
  p[kOnMessageComplete] = () => messages++;
  const r = p.execute(bytes);
  const boundary = p.headersCompleted();
  p.close();
  return { ok: !isParseError(r), messages, boundary, ...head, body: Buffer.concat(body).toString('latin1') };
}

/** The fast path may only take what llhttp reads as one clean message, and must read it the same. */
function assertAgrees(bytes: Buffer): boolean {
  const fast = parseSimpleResponse(bytes);
  if (fast === null) return false;
  const ll = llhttpReads(bytes);
  const shown = JSON.stringify(bytes.toString('latin1'));
  assert.ok(ll.ok, `llhttp rejects what the fast path took: ${shown}`);
  assert.equal(ll.messages, 1, `llhttp does not read exactly one message: ${shown}`);
  assert.ok(ll.boundary, `llhttp does not end at a message boundary: ${shown}`);
  assert.equal(ll.upgrade, false, shown);
  assert.equal(fast.status, ll.status, shown);
  assert.equal(fast.statusText, ll.statusText, shown);
  assert.deepEqual(fast.headers, ll.headers, shown);
  assert.equal(fast.keepAlive, ll.keepAlive, shown);
  assert.equal(bytes.subarray(fast.bodyStart).toString('latin1'), ll.body, shown);
  return true;
}

const NGINX =
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 19:22:24 GMT\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: keep-alive\r\n\r\n{"id":"nginx-1","ok":true}\n';

describe('simple response fast path', () => {
  it('reads a whole Content-Length response as llhttp does', () => {
    const b = Buffer.from(NGINX, 'latin1');
    const r = parseSimpleResponse(b);
    assert.ok(r !== null);
    assert.equal(r.status, 200);
    assert.equal(r.statusText, 'OK');
    assert.deepEqual(r.headers.slice(0, 2), ['Server', 'nginx/1.22.1']);
    assert.equal(r.keepAlive, true);
    assert.equal(b.subarray(r.bodyStart).toString(), '{"id":"nginx-1","ok":true}\n');
    assert.ok(assertAgrees(b));
  });

  it('takes the plain shapes and agrees with llhttp on each', () => {
    const taken = [
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\nconnection: close\r\n\r\nnop',
      'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 2\r\nConnection: Keep-Alive\r\n\r\nno',
      'HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Tab:\ta\tb\r\nContent-Length: 1\r\n\r\nx',
      'HTTP/1.1 200 Ok fine\r\nContent-Length: 007\r\n\r\n1234567',
      'HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n',
    ];
    for (const t of taken) assert.ok(assertAgrees(Buffer.from(t, 'latin1')), `not taken: ${JSON.stringify(t)}`);
  });

  it('leaves to llhttp everything outside its subset', () => {
    const left = [
      'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', // another version
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', // chunked
      'HTTP/1.1 200 OK\r\n\r\nuntil close', // no length
      'HTTP/1.1 100 Continue\r\n\r\n', // interim
      'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
      'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel', // partial body
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n', // bytes after it
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', // duplicate length
      'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nContent-Length: 2 \r\n\r\nok', // trailing whitespace
      'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok', // space before the colon
      'HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nok', // obs-fold
      'HTTP/1.1 200 OK\nContent-Length: 2\n\nok', // bare LF
      'HTTP/1.1 200 OK\r\nX: a\nb\r\nContent-Length: 2\r\n\r\nok', // LF inside a value
      'HTTP/1.1 200 OK\r\nX: a\0b\r\nContent-Length: 2\r\n\r\nok', // NUL
      'HTTP/1.1 200 OK\r\nConnection: upgrade\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nConnection: close, x\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok', // no reason phrase
      'HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n',
      'HTTP/1.1 200 OK\r\n', // a head cut short
    ];
    for (const t of left) assert.equal(parseSimpleResponse(Buffer.from(t, 'latin1')), null, JSON.stringify(t));
    const long = `HTTP/1.1 200 OK\r\nX-Long: ${'a'.repeat(SIMPLE_HEAD_LIMIT)}\r\nContent-Length: 0\r\n\r\n`;
    assert.equal(parseSimpleResponse(Buffer.from(long, 'latin1')), null, 'a head past the limit');
  });

  it('never takes a mutated response that llhttp reads differently (differential fuzz)', () => {
    const bases = [
      NGINX,
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
      'HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello',
    ];
    fuzzAgainstLlhttp(bases, assertAgrees);
  });
});

/**
 * Mutates the bases at random and has `agrees` check each mutation (true: the
 * fast path took it). SWITCHYARD_FUZZ_ROUNDS runs more (and SWITCHYARD_FUZZ_SEED
 * other seeds) when changing the fast path.
 */
function fuzzAgainstLlhttp(bases: readonly string[], agrees: (b: Buffer) => boolean): void {
  const rand = prng();
  const buffers = bases.map((t) => Buffer.from(t, 'latin1'));
  const rounds = Number(process.env.SWITCHYARD_FUZZ_ROUNDS ?? 20_000);
  let taken = 0;
  for (let k = 0; k < rounds; k++) if (agrees(mutate(buffers[rand(buffers.length)]!, rand))) taken++;
  // The fuzz must exercise the fast path, not only its refusals.
  assert.ok(taken > rounds / 20, `only ${taken} of ${rounds} mutations were taken`);
}

/** A deterministic xorshift PRNG, so a failure reproduces (SWITCHYARD_FUZZ_SEED picks another run). */
function prng(): (n: number) => number {
  let seed = Number(process.env.SWITCHYARD_FUZZ_SEED ?? 0x9e3779b9) | 0 || 1;
  return (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
}

/** One to three random edits (replace, insert, delete a byte; repeat a span) biased to bytes parsers care about. */
function mutate(base: Buffer, rand: (n: number) => number): Buffer {
  const special = [0, 9, 10, 13, 32, 34, 35, 37, 44, 47, 58, 59, 63, 127, 128, 255, 0x2b, 0x2d, 0x30, 0x39, 0x5c, 0x7b];
  let b = Buffer.from(base);
  const edits = 1 + rand(3);
  for (let e = 0; e < edits; e++) {
    const at = rand(b.length);
    const byte = rand(4) === 0 ? rand(256) : special[rand(special.length)]!;
    switch (rand(4)) {
      case 0:
        b[at] = byte;
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.of(byte), b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
        break;
      default: {
        const end = Math.min(b.length, at + 1 + rand(40));
        b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
      }
    }
  }
  return b;
}

interface LlhttpRequestReading {
  readonly ok: boolean;
  readonly messages: number;
  readonly boundary: boolean;
  readonly method?: string;
  readonly url?: string;
  readonly major?: number;
  readonly minor?: number;
  readonly headers?: string[];
  readonly keepAlive?: boolean;
  readonly upgrade?: boolean;
  readonly bodyBytes: number;
}

function llhttpReadsRequest(bytes: Buffer, maxHeaderSize: number): LlhttpRequestReading {
  const p = createParser('request', maxHeaderSize);
  const pending: string[] = [];
  let pendingUrl = '';
  let head: Omit<LlhttpRequestReading, 'ok' | 'messages' | 'boundary' | 'bodyBytes'> | undefined;
  let bodyBytes = 0;
  let messages = 0;
  p[kOnHeaders] = (h: string[], url: string) => {
    pending.push(...h);
    pendingUrl += url;
  };
  p[kOnHeadersComplete] = (
    major: number,
    minor: number,
    h: string[] | undefined,
    m: number,
    url: string | undefined,
    _s: number,
    _t: string,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    head ??= { method: METHODS[m], url: url || pendingUrl, major, minor, headers: h ?? pending.splice(0), keepAlive, upgrade };
    return 0;
  };
  p[kOnBody] = (c: Buffer) => {
    bodyBytes += c.length;
  };
  p[kOnMessageComplete] = () => messages++;
  const r = p.execute(bytes);
  const boundary = p.headersCompleted();
  p.close();
  return { ok: !isParseError(r), messages, boundary, bodyBytes, ...head };
}

function assertRequestAgrees(bytes: Buffer, maxHeaderSize = 16 * 1024): boolean {
  const fast = parseSimpleRequest(bytes, maxHeaderSize);
  if (fast === null) return false;
  const ll = llhttpReadsRequest(bytes, maxHeaderSize);
  const shown = JSON.stringify(bytes.toString('latin1'));
  assert.ok(ll.ok, `llhttp rejects what the fast path took: ${shown}`);
  assert.equal(ll.messages, 1, `llhttp does not read exactly one message: ${shown}`);
  assert.ok(ll.boundary, `llhttp does not end at a message boundary: ${shown}`);
  assert.equal(ll.bodyBytes, 0, shown);
  assert.equal(ll.upgrade, false, shown);
  assert.equal(ll.major, 1, shown);
  assert.equal(ll.minor, 1, shown);
  assert.equal(fast.method, ll.method, shown);
  assert.equal(SIMPLE_METHODS[fast.methodIndex], fast.method, shown);
  assert.equal(fast.url, ll.url, shown);
  assert.deepEqual(fast.headers, ll.headers, shown);
  assert.equal(fast.keepAlive, ll.keepAlive, shown);
  return true;
}

const WRK = 'GET /api/items?id=7&x=%20y HTTP/1.1\r\nHost: 127.0.0.1:9090\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n';

describe('simple request fast path', () => {
  it('reads a whole request without a body as llhttp does', () => {
    const r = parseSimpleRequest(Buffer.from(WRK, 'latin1'), 16 * 1024);
    assert.ok(r !== null);
    assert.equal(r.method, 'GET');
    assert.equal(r.url, '/api/items?id=7&x=%20y');
    assert.deepEqual(r.headers, ['Host', '127.0.0.1:9090', 'User-Agent', 'wrk', 'Accept', '*/*']);
    assert.equal(r.keepAlive, true);
    const taken = [
      WRK,
      'HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
      'DELETE /x/1 HTTP/1.1\r\nHost: a\r\n\r\n',
      'OPTIONS /x HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n',
      'GET / HTTP/1.1\r\n\r\n',
      "GET /a:b@c/!$&'()*+,;=~_-. HTTP/1.1\r\nHost: a\r\n\r\n",
    ];
    for (const t of taken) assert.ok(assertRequestAgrees(Buffer.from(t, 'latin1')), `not taken: ${JSON.stringify(t)}`);
  });

  it('leaves to llhttp everything outside its subset', () => {
    const left = [
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok', // a body
      'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n', // a declared length
      'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.0\r\nHost: a\r\n\r\n',
      'GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n', // absolute form
      'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
      'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n',
      'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      'GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET /a"b HTTP/1.1\r\nHost: a\r\n\r\n',
      'get / HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET  / HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\nHost: a\n\n',
      'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a \r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', // pipelined
      'GET / HTTP/1.1\r\nHost: a\r\n', // a head cut short
    ];
    for (const t of left) assert.equal(parseSimpleRequest(Buffer.from(t, 'latin1'), 16 * 1024), null, JSON.stringify(t));
    const head = Buffer.from(WRK, 'latin1');
    assert.equal(parseSimpleRequest(head, head.length), null, 'a request at the header size limit');
    assert.ok(parseSimpleRequest(head, head.length + 1) !== null);
  });

  it('never takes a mutated request that llhttp reads differently (differential fuzz)', () => {
    const bases = [
      WRK,
      'HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-A: 1\r\n\r\n',
      'DELETE /items/9?force=1 HTTP/1.1\r\nHost: b\r\nConnection: keep-alive\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n',
    ];
    fuzzAgainstLlhttp(bases, assertRequestAgrees);
  });
});
