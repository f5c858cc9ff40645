import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translateH2Head } from '../../balancer/forward/http2/h2-request.js';

const PSEUDO = [':method', 'GET', ':scheme', 'https', ':path', '/a?b', ':authority', 'example.com'];

describe('translateH2Head (HTTP/2 request head in HTTP/1.1 terms)', () => {
  it('makes :authority the first Host, keeps fields in order and drops pseudo-headers', () => {
    const h = translateH2Head([...PSEUDO, 'x-a', '1', 'accept', '*/*'], true, 16_384);
    assert.equal(h.refusal, undefined);
    assert.equal(h.method, 'GET');
    assert.equal(h.target, '/a?b');
    assert.deepEqual(h.headers, ['host', 'example.com', 'x-a', '1', 'accept', '*/*']);
  });

  it('accepts a Host that agrees with :authority (any case), refuses one that names another, or two', () => {
    assert.equal(translateH2Head([...PSEUDO, 'host', 'EXAMPLE.com'], true, 16_384).refusal, undefined);
    assert.equal(translateH2Head([...PSEUDO, 'host', 'other.com'], true, 16_384).refusal, 'SWY_BAD_REQUEST');
    assert.equal(translateH2Head([...PSEUDO, 'host', 'example.com', 'host', 'example.com'], true, 16_384).refusal, 'SWY_BAD_REQUEST');
    assert.equal(translateH2Head([':method', 'GET', ':scheme', 'https', ':path', '/', ':authority', ''], true, 16_384).refusal, 'SWY_BAD_REQUEST');
  });

  it('without :authority takes the one Host, and leaves none or several to the policy', () => {
    const base = [':method', 'GET', ':scheme', 'https', ':path', '/'];
    assert.deepEqual(translateH2Head([...base, 'host', 'h'], true, 16_384).headers, ['host', 'h']);
    assert.deepEqual(translateH2Head(base, true, 16_384).headers, []);
    assert.deepEqual(translateH2Head([...base, 'host', 'h', 'host', 'i'], true, 16_384).headers, ['host', 'i', 'host', 'i']);
  });

  it('joins Cookie fields and frames a body without Content-Length as chunked', () => {
    const h = translateH2Head([...PSEUDO, 'cookie', 'a=1', 'x', 'y', 'cookie', 'b=2'], false, 16_384);
    assert.deepEqual(h.headers, ['host', 'example.com', 'x', 'y', 'cookie', 'a=1; b=2', 'transfer-encoding', 'chunked']);
    assert.deepEqual(translateH2Head([...PSEUDO, 'content-length', '3'], false, 16_384).headers, ['host', 'example.com', 'content-length', '3']);
  });

  it('refuses what must never become HTTP/1.1: CR, LF or NUL, connection-specific fields, TE other than trailers, unknown pseudo-headers', () => {
    for (const extra of [
      ['x-a', 'a\r\nb: c'],
      ['x-a', 'a\0'],
      ['x\nb', 'a'],
      ['connection', 'close'],
      ['transfer-encoding', 'chunked'],
      ['upgrade', 'h2c'],
      ['te', 'gzip'],
      [':protocol', 'websocket'],
    ])
      assert.equal(translateH2Head([...PSEUDO, ...extra], true, 16_384).refusal, 'SWY_BAD_REQUEST', JSON.stringify(extra));
    assert.equal(translateH2Head([...PSEUDO, 'te', 'trailers'], true, 16_384).refusal, undefined);
    assert.equal(translateH2Head([':scheme', 'https', ':authority', 'a'], true, 16_384).refusal, 'SWY_BAD_REQUEST', 'no :method, no :path');
  });

  it('answers 431 to a head heavier than --max-header-size as HTTP/1.1 would weigh it', () => {
    assert.equal(translateH2Head([...PSEUDO, 'x-big', 'x'.repeat(900)], true, 1024).refusal, undefined);
    assert.equal(translateH2Head([...PSEUDO, 'x-big', 'x'.repeat(1000)], true, 1024).refusal, 'SWY_HEADERS_TOO_LARGE');
  });
});
