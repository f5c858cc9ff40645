import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAddress, isAcceptableRequestId, rewriteRequestHeaders, rewriteResponseHeaders, type UpstreamRequestHead } from '../../balancer/forward/request-headers.js';

function rewrite(raw: string[], trust = false): { head: UpstreamRequestHead; pairs: [string, string][] } {
  const head: UpstreamRequestHead = { headers: [], hasBody: false, incomingRequestId: undefined };
  rewriteRequestHeaders(raw, head, '10.1.1.1', 'http', trust);
  const pairs: [string, string][] = [];
  for (let i = 0; i < head.headers.length; i += 2) pairs.push([head.headers[i]!, head.headers[i + 1]!]);
  return { head, pairs };
}

describe('upstream request headers', () => {
  it('drops hop-by-hop headers and adds X-Forwarded-*', () => {
    const { pairs } = rewrite(['Host', 'shop.example', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Accept', '*/*', 'Upgrade', 'h2c', 'Proxy-Connection', 'x', 'Expect', '100-continue']);
    assert.deepEqual(pairs, [
      ['Host', 'shop.example'],
      ['Accept', '*/*'],
      ['x-forwarded-for', '10.1.1.1'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'shop.example'],
    ]);
  });

  it('drops headers the client named in Connection', () => {
    const { pairs } = rewrite(['Connection', 'close, X-Secret', 'X-Secret', '1', 'X-Kept', '2']);
    assert.deepEqual(pairs.slice(0, 1), [['X-Kept', '2']]);
  });

  it('replaces untrusted forwarded headers and appends to trusted ones', () => {
    const raw = ['X-Forwarded-For', '1.2.3.4', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'a.example', 'Host', 'b.example'];
    const untrusted = new Map(rewrite(raw).pairs);
    assert.equal(untrusted.get('x-forwarded-for'), '10.1.1.1');
    assert.equal(untrusted.get('x-forwarded-proto'), 'http');
    assert.equal(untrusted.get('x-forwarded-host'), 'b.example');
    const trusted = new Map(rewrite(raw, true).pairs);
    assert.equal(trusted.get('x-forwarded-for'), '1.2.3.4, 10.1.1.1');
    assert.equal(trusted.get('x-forwarded-proto'), 'https');
    assert.equal(trusted.get('x-forwarded-host'), 'a.example');
  });

  it('keeps an acceptable incoming X-Request-Id and never forwards the raw one', () => {
    const { head, pairs } = rewrite(['X-Request-Id', 'abc-123']);
    assert.equal(head.incomingRequestId, 'abc-123');
    assert.equal(pairs.some(([n]) => n.toLowerCase() === 'x-request-id'), false);
    assert.equal(rewrite(['X-Request-Id', 'has space']).head.incomingRequestId, undefined);
    assert.equal(isAcceptableRequestId('x'.repeat(201)), false);
  });

  it('tells whether a body follows', () => {
    assert.equal(rewrite(['Content-Length', '0']).head.hasBody, false);
    assert.equal(rewrite(['Content-Length', '12']).head.hasBody, true);
    assert.equal(rewrite(['Transfer-Encoding', 'chunked']).head.hasBody, true);
    assert.equal(rewrite(['Transfer-Encoding', 'chunked']).pairs.some(([n]) => n === 'Transfer-Encoding'), false);
    assert.equal(rewrite([]).head.hasBody, false);
  });

  it('strips the IPv4-mapped prefix from client addresses', () => {
    assert.equal(clientAddress('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(clientAddress('::1'), '::1');
    assert.equal(clientAddress(undefined), '');
  });
});

describe('response headers', () => {
  it('drops hop-by-hop headers and keeps duplicates such as Set-Cookie', () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'].map((s) => Buffer.from(s));
    const out: string[] = [];
    rewriteResponseHeaders(raw, out);
    assert.deepEqual(out, ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  });
});
