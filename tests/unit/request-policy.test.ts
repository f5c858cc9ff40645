import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BodyFraming,
  clientAddress,
  evaluateRequest,
  isAcceptableRequestId,
  isAuthority,
  newVerdict,
  type PolicyVerdict,
  type RequestPolicyOptions,
} from '../../balancer/forward/request-policy.js';
import { filterResponseHeaders, filterTrailers } from '../../balancer/forward/response-policy.js';
import { AddressList, clientRules, NO_CLIENT_RULES, type ClientRules } from '../../balancer/forward/client-rules.js';

const OPTS: RequestPolicyOptions = {
  clients: NO_CLIENT_RULES,
  maxHeaders: 100,
  maxBodySize: 1000,
  via: 'switchyard-test',
  via11: '1.1 switchyard-test',
  via10: '1.0 switchyard-test',
  upgrades: new Set(['websocket']),
};

function decide(
  headers: string[],
  extra: { method?: string; target?: string; minor?: number; trust?: boolean; clients?: ClientRules; peer?: string } = {},
): PolicyVerdict {
  return evaluateRequest(
    {
      method: extra.method ?? 'GET',
      target: extra.target ?? '/p',
      major: 1,
      minor: extra.minor ?? 1,
      headers,
      clientIp: extra.peer ?? '10.1.1.1',
      proto: 'http',
    },
    { ...OPTS, clients: extra.clients ?? clientRules({ trustForwarded: extra.trust ?? false }) },
    () => 'gen-1',
    newVerdict(),
  );
}

function pairs(v: PolicyVerdict): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < v.headers.length; i += 2) out.push([v.headers[i]!, v.headers[i + 1]!]);
  return out;
}

describe('request policy', () => {
  it('drops hop-by-hop fields and framing, adds X-Forwarded-*, Via and X-Request-Id', () => {
    const v = decide([
      'Host',
      'shop.example',
      'Connection',
      'keep-alive',
      'Keep-Alive',
      'timeout=5',
      'TE',
      'trailers',
      'Accept',
      '*/*',
      'Upgrade',
      'h2c',
      'Proxy-Connection',
      'x',
      'Expect',
      '100-continue',
      'Content-Length',
      '0',
    ]);
    assert.equal(v.refusal, undefined);
    assert.equal(v.host, 'shop.example');
    assert.deepEqual(pairs(v), [
      ['Accept', '*/*'],
      ['x-forwarded-for', '10.1.1.1'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'shop.example'],
      ['via', '1.1 switchyard-test'],
      ['x-request-id', 'gen-1'],
    ]);
    assert.equal(v.body, BodyFraming.Length);
    assert.equal(v.length, 0);
    assert.equal(v.expectContinue, true);
  });

  it('drops the fields Connection names, and refuses a token naming one the proxy relies on', () => {
    const v = decide(['Host', 'h', 'Connection', 'close, X-Secret', 'X-Secret', '1', 'X-Kept', '2']);
    assert.deepEqual(pairs(v)[0], ['X-Kept', '2']);
    assert.ok(!pairs(v).some(([n]) => n === 'X-Secret'));
    for (const t of [
      'content-length',
      'Transfer-Encoding',
      'host',
      'via',
      'forwarded',
      'x-forwarded-for',
      'X-Forwarded-Anything',
      'x-real-ip',
      'x-request-id',
    ]) {
      assert.equal(decide(['Host', 'h', 'Connection', t]).refusal, 'SWY_BAD_REQUEST', t);
    }
  });

  const refusals: [string, string[], Parameters<typeof decide>[1], string][] = [
    ['no Host on HTTP/1.1', [], {}, 'SWY_BAD_HOST'],
    ['two Hosts', ['Host', 'a', 'host', 'b'], {}, 'SWY_BAD_HOST'],
    ['Host with userinfo', ['Host', 'u@a'], {}, 'SWY_BAD_HOST'],
    ['Host with a path', ['Host', 'a/b'], {}, 'SWY_BAD_HOST'],
    ['port out of range', ['Host', 'a:70000'], {}, 'SWY_BAD_HOST'],
    ['chunked on HTTP/1.0', ['Transfer-Encoding', 'chunked'], { minor: 0 }, 'SWY_BAD_REQUEST'],
    ['a coding other than chunked', ['Host', 'h', 'Transfer-Encoding', 'gzip, chunked'], {}, 'SWY_NOT_IMPLEMENTED'],
    ['two Transfer-Encoding lines', ['Host', 'h', 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'], {}, 'SWY_NOT_IMPLEMENTED'],
    ['Content-Length beside Transfer-Encoding', ['Host', 'h', 'Transfer-Encoding', 'chunked', 'Content-Length', '3'], {}, 'SWY_BAD_REQUEST'],
    ['a list as Content-Length', ['Host', 'h', 'Content-Length', '3, 3'], {}, 'SWY_BAD_REQUEST'],
    ['a length past what a number holds exactly', ['Host', 'h', 'Content-Length', '9007199254740993'], {}, 'SWY_BODY_TOO_LARGE'],
    ['a declared body over the limit', ['Host', 'h', 'Content-Length', '1001'], {}, 'SWY_BODY_TOO_LARGE'],
    ['an unknown expectation', ['Host', 'h', 'Expect', 'teapot'], {}, 'SWY_EXPECTATION_FAILED'],
    ['CONNECT', ['Host', 'h:443'], { method: 'CONNECT', target: 'h:443' }, 'SWY_NOT_IMPLEMENTED'],
    ['HTTP/1.2', ['Host', 'h'], { minor: 2 }, 'SWY_HTTP_VERSION'],
    ['* with GET', ['Host', 'h'], { target: '*' }, 'SWY_BAD_REQUEST'],
    ['a relative target', ['Host', 'h'], { target: 'p' }, 'SWY_BAD_REQUEST'],
    ['an absolute target with userinfo', ['Host', 'h'], { target: 'http://u@h/p' }, 'SWY_BAD_REQUEST'],
    ['our own Via', ['Host', 'h', 'Via', '1.0 a, 1.1 switchyard-test (Switchyard)'], {}, 'SWY_LOOP_DETECTED'],
  ];
  for (const [what, headers, extra, code] of refusals) {
    it(`refuses ${what}: ${code}`, () => assert.equal(decide(headers, extra).refusal, code));
  }

  it('counts fields against --max-headers', () => {
    const h = ['Host', 'h'];
    for (let i = 0; i < 99; i++) h.push(`X-${i}`, 'v');
    assert.equal(decide(h).refusal, undefined);
    h.push('X-100', 'v');
    assert.equal(decide(h).refusal, 'SWY_TOO_MANY_HEADERS');
  });

  it('rewrites an absolute-form target and takes Host from it', () => {
    const v = decide(['Host', 'ignored'], { target: 'HTTP://Shop.example:8080?x=1' });
    assert.equal(v.refusal, undefined);
    assert.equal(v.path, '/?x=1');
    assert.equal(v.host, 'Shop.example:8080');
    assert.equal(decide(['Host', 'h'], { method: 'OPTIONS', target: '*' }).path, '*');
  });

  it('lets an HTTP/1.0 request without Host through (the engine uses the backend’s)', () => {
    const v = decide([], { minor: 0 });
    assert.equal(v.refusal, undefined);
    assert.equal(v.host, '');
    assert.ok(!pairs(v).some(([n]) => n === 'x-forwarded-host'));
  });

  it('drops underscore names and untrusted Forwarded, X-Real-IP and X-Forwarded-*; keeps and appends when trusted', () => {
    const raw = [
      'Host',
      'b.example',
      'Transfer_Encoding',
      'chunked',
      'X-Forwarded-For',
      '1.2.3.4',
      'X-Forwarded-Proto',
      'https',
      'X-Forwarded-Host',
      'a.example',
      'X-Forwarded-Port',
      '443',
      'Forwarded',
      'for=1.2.3.4',
      'X-Real-IP',
      '1.2.3.4',
    ];
    const untrusted = pairs(decide(raw));
    assert.deepEqual(untrusted.slice(0, 3), [
      ['x-forwarded-for', '10.1.1.1'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'b.example'],
    ]);
    assert.ok(!untrusted.some(([n]) => /_|forwarded$|real-ip|port/i.test(n)));
    const trusted = new Map(pairs(decide(raw, { trust: true })));
    assert.equal(trusted.get('x-forwarded-for'), '1.2.3.4, 10.1.1.1');
    assert.equal(trusted.get('x-forwarded-proto'), 'https');
    assert.equal(trusted.get('x-forwarded-host'), 'a.example');
    assert.equal(trusted.get('X-Forwarded-Port'), '443');
    assert.equal(trusted.get('Forwarded'), 'for=1.2.3.4');
    assert.equal(trusted.has('Transfer_Encoding'), false);
  });

  it('keeps an Upgrade on the allow-list and ignores any other', () => {
    const ws = decide(['Host', 'h', 'Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k']);
    assert.equal(ws.upgrade, 'websocket');
    assert.deepEqual(pairs(ws).slice(-2), [
      ['connection', 'upgrade'],
      ['upgrade', 'websocket'],
    ]);
    const h2c = decide(['Host', 'h', 'Connection', 'Upgrade, HTTP2-Settings', 'Upgrade', 'h2c', 'HTTP2-Settings', 'x']);
    assert.equal(h2c.upgrade, undefined);
    assert.ok(!pairs(h2c).some(([n]) => /upgrade|http2-settings|connection/i.test(n)));
  });

  it('keeps an acceptable incoming X-Request-Id and makes one otherwise', () => {
    assert.equal(decide(['Host', 'h', 'X-Request-Id', 'abc-123']).requestId, 'abc-123');
    assert.equal(decide(['Host', 'h', 'X-Request-Id', 'has space']).requestId, 'gen-1');
    assert.equal(isAcceptableRequestId('x'.repeat(201)), false);
  });

  it('checks authorities', () => {
    for (const ok of ['a', 'a.example:80', '[::1]:8080', '127.0.0.1', 'xn--bcher-kva.example', 'a:']) assert.equal(isAuthority(ok, false), true, ok);
    for (const bad of ['', ' a', 'a b', 'a@b', 'a/b', '[::1', 'a:1:2', 'a:123456', 'ä.example']) assert.equal(isAuthority(bad, false), false, bad);
  });

  it('strips the IPv4-mapped prefix from client addresses', () => {
    assert.equal(clientAddress('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(clientAddress('::1'), '::1');
    assert.equal(clientAddress(undefined), '');
  });
});

describe('response policy', () => {
  const filter = (raw: string[], noLength = false): { out: string[]; hasLength: boolean } => {
    const out: string[] = [];
    const shape = { hasLength: false, hasDate: false };
    filterResponseHeaders(raw, noLength, out, shape);
    return { out, hasLength: shape.hasLength };
  };

  it('drops hop-by-hop fields and keeps duplicates such as Set-Cookie', () => {
    const { out } = filter([
      'Content-Type',
      'text/plain',
      'Connection',
      'keep-alive',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
    ]);
    assert.deepEqual(out, ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  });

  it('drops fields the response’s Connection names', () => {
    assert.deepEqual(filter(['X-Secret', '1', 'Connection', 'x-secret', 'X-Public', '2']).out, ['X-Public', '2']);
  });

  it('never keeps two framings, and no Content-Length on 204', () => {
    const both = filter(['Content-Length', '5', 'Transfer-Encoding', 'chunked']);
    assert.deepEqual(both.out, []);
    assert.equal(both.hasLength, false);
    assert.deepEqual(filter(['Content-Length', '5'], true).out, []);
    assert.equal(filter(['Content-Length', '5']).hasLength, true);
  });

  it('drops framing, routing and authentication fields from trailers', () => {
    assert.deepEqual(
      filterTrailers(['Content-Length', '5', 'Transfer-Encoding', 'chunked', 'Host', 'h', 'Set-Cookie', 'a', 'X_Bad', '1', 'X-Checksum', 'abc']),
      ['X-Checksum', 'abc'],
    );
    assert.equal(filterTrailers(['Content-Length', '5']), null);
  });
});

describe('client rules: trusted proxies, allow and deny lists', () => {
  const rules = (r: { trusted?: string[]; allow?: string[]; deny?: string[] }): ClientRules =>
    clientRules({ trustForwarded: false, trustedProxies: r.trusted, allowClients: r.allow, denyClients: r.deny });
  const xff = (v: string): string[] => ['Host', 'h', 'X-Forwarded-For', v];

  it('reads addresses and networks of both families, and names an entry it cannot read', () => {
    const l = AddressList.parse(['10.0.0.0/8', '203.0.113.7', '2001:db8::/32']);
    assert.ok(l.has('10.200.1.1') && l.has('203.0.113.7') && l.has('2001:db8:1::5'));
    assert.ok(!l.has('11.0.0.1') && !l.has('203.0.113.8') && !l.has('2001:db9::1'));
    assert.ok(!l.has('not-an-address') && !l.has(''));
    assert.throws(() => AddressList.parse(['10.0.0.0/33']), /'10\.0\.0\.0\/33' has no valid prefix length/);
    assert.throws(() => AddressList.parse(['example.com']), /'example\.com' is not an IPv4 or IPv6 address/);
    assert.throws(() => AddressList.parse(['10.0.0.0/x']), /no valid prefix length/);
  });

  it('behind a trusted proxy the client is the rightmost forwarded address that is not a trusted proxy', () => {
    const r = rules({ trusted: ['10.1.1.0/24', '192.168.0.0/16'] });
    assert.equal(decide(xff('203.0.113.5'), { clients: r }).clientIp, '203.0.113.5');
    // A client cannot hide behind addresses it writes itself: the proxy's entry is the rightmost.
    assert.equal(decide(xff('198.51.100.1, 203.0.113.5'), { clients: r }).clientIp, '203.0.113.5');
    // Chained trusted proxies are skipped.
    assert.equal(decide(xff('203.0.113.5, 192.168.4.4'), { clients: r }).clientIp, '203.0.113.5');
    // From a peer that is not trusted, X-Forwarded-For is dropped and the client is the peer.
    const v = decide(xff('203.0.113.5'), { clients: r, peer: '172.16.0.9' });
    assert.equal(v.clientIp, '172.16.0.9');
    assert.equal(new Map(pairs(v)).get('x-forwarded-for'), '172.16.0.9');
  });

  it('refuses denied clients with 403, and with an allow list anyone not on it; deny first', () => {
    const deny = rules({ trusted: ['10.1.1.1'], deny: ['203.0.113.0/24'] });
    assert.equal(decide(xff('203.0.113.5'), { clients: deny }).refusal, 'SWY_FORBIDDEN');
    assert.equal(decide(xff('198.51.100.1, 203.0.113.5'), { clients: deny }).refusal, 'SWY_FORBIDDEN');
    assert.equal(decide(xff('203.0.113.5, 198.51.100.1'), { clients: deny }).refusal, undefined, 'the left entry is only a claim');
    // Without trust, a forwarded address changes nothing: the peer is judged.
    assert.equal(decide(xff('203.0.113.5'), { clients: rules({ deny: ['203.0.113.0/24'] }) }).refusal, undefined);
    assert.equal(decide(['Host', 'h'], { clients: rules({ deny: ['10.1.1.0/24'] }) }).refusal, 'SWY_FORBIDDEN');
    const allow = rules({ trusted: ['10.1.1.1'], allow: ['198.51.100.0/24'], deny: ['198.51.100.66'] });
    assert.equal(decide(xff('198.51.100.1'), { clients: allow }).refusal, undefined);
    assert.equal(decide(xff('203.0.113.5'), { clients: allow }).refusal, 'SWY_FORBIDDEN');
    assert.equal(decide(xff('198.51.100.66'), { clients: allow }).refusal, 'SWY_FORBIDDEN');
    assert.equal(decide(xff('garbage'), { clients: allow }).refusal, 'SWY_FORBIDDEN', 'what is not an address is not on an allow list');
  });

  it('--trust-forwarded trusts every peer and takes the leftmost entry', () => {
    assert.equal(decide(xff('203.0.113.5, 198.51.100.1'), { trust: true }).clientIp, '203.0.113.5');
  });
});
