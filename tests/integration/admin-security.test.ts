import assert from 'node:assert/strict';
import { request, type IncomingMessage, type Server, createServer } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAdmin, type Admin, type AdminOptions } from '../../balancer/admin/admin-app.js';
import { BALANCER_OPTIONS } from '../../balancer/config.js';
import { silentLogger } from '../../common/logger.js';
import { freePort } from '../helpers/ports.js';
import { runSwitchyard, SwitchyardProcess } from '../helpers/processes.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'admin-security-token-1';

interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** One request over a real socket with exactly these headers (Host included when given). */
function call(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = opts.headers ?? {};
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers,
        setHost: !Object.keys(headers).some((h) => h.toLowerCase() === 'host'),
        agent: false,
      },
      (res) => {
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          // A live stream never ends: its status and head are the answer.
          res.destroy();
          resolve({ status: res.statusCode!, headers: res.headers, body: '' });
          return;
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function code(a: Answer): string | undefined {
  try {
    return (JSON.parse(a.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

/** A second admin app over the same balancer, with its own options, on its own loopback port. */
async function serveAdmin(t: TestBalancer, opts: Omit<AdminOptions, 'logger'>): Promise<{ port: number; admin: Admin; close(): Promise<void> }> {
  const admin = createAdmin(t.lb, { logger: silentLogger(), processMetrics: false, ...opts });
  const server: Server = createServer(admin.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    admin,
    close: async () => {
      admin.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('admin API: refuses to run open on a reachable address', () => {
  for (const host of ['0.0.0.0', '::', '192.168.10.20', 'admin.example.internal']) {
    it(`--admin-host ${host} without --admin-token stops at start, naming both flags`, async () => {
      const r = await runSwitchyard(['balancer', '--admin-host', host, '--port', '0', '--admin-port', '0']);
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
      assert.match(r.stderr, /--admin-host/);
      assert.match(r.stderr, /--admin-token/);
      assert.match(r.stderr, /--admin-insecure-no-token/);
    });
  }

  it('starts on 0.0.0.0 with --admin-insecure-no-token (or its variable), and warns', async () => {
    const adminPort = await freePort();
    const lb = new SwitchyardProcess(
      ['balancer', '--admin-host', '0.0.0.0', '--admin-port', String(adminPort), '--port', String(await freePort()), '--host', '127.0.0.1'],
      { SWITCHYARD_ADMIN_INSECURE_NO_TOKEN: 'true' },
    );
    try {
      await lb.waitReady(`http://127.0.0.1:${adminPort}`);
      const warning = await lb.waitForLog('', 5000, (l) => l.level === 'warn' && /without a token/.test(String(l.msg)), true);
      assert.equal(warning.adminHost, '0.0.0.0');
      // Open, but still only for Host names that name it.
      assert.equal((await call(adminPort, '/backends', { headers: { host: 'attacker.example' } })).status, 421);
    } finally {
      await lb.kill();
    }
  });

  it('starts on 0.0.0.0 with a token, and on loopback without one', async () => {
    const withToken = await runSwitchyard(['balancer', '--admin-host', '0.0.0.0', '--admin-token', TOKEN, '--port', '0', '--admin-port', '0', '--help']);
    assert.equal(withToken.code, 0, withToken.stderr);
    await Promise.all(
      ['127.0.0.1', '127.0.0.2', '::1', 'localhost'].map(async (host) => {
        const r = await runSwitchyard(['balancer', '--admin-host', host, '--port', '0', '--admin-port', '0', '--help']);
        assert.equal(r.code, 0, `${host}: ${r.stderr}`);
      }),
    );
  });
});

describe('admin API: cross-site changes, content types and Host names', () => {
  let backend: TestBackend;
  let lb: TestBalancer;
  let port: number;
  const state = (): string => lb.lb.upstreams.get('s1')!.spec.state;

  before(async () => {
    backend = await TestBackend.start('s1');
    lb = await TestBalancer.start({ backends: [backend.spec()] });
    port = lb.adminPort;
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  it('refuses a cross-site text/plain POST (403) and drains nothing', async () => {
    const r = await call(port, '/backends/s1/drain', { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'http://evil.example' }, body: '{}' });
    assert.equal(r.status, 403);
    assert.equal(code(r), 'SWY_ADMIN_CROSS_SITE');
    assert.equal(state(), 'active');
  });

  it('refuses an HTML-form-style cross-site POST, PUT /strategy and DELETE (403), changing nothing', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' };
    assert.equal((await call(port, '/backends/s1/drain', { method: 'POST', headers: form, body: 'x=1' })).status, 403);
    assert.equal((await call(port, '/backends', { method: 'POST', headers: form, body: 'id=evil&url=http://10.0.0.1:80' })).status, 403);
    assert.equal((await call(port, '/backends/s1', { method: 'DELETE', headers: { origin: 'http://evil.example' } })).status, 403);
    const json = { 'content-type': 'application/json', origin: 'null' };
    assert.equal(
      (await call(port, '/strategy', { method: 'PUT', headers: json, body: '{"name":"random"}' })).status,
      403,
      'an opaque origin is another origin',
    );
    const otherPort = { 'content-type': 'application/json', origin: `http://127.0.0.1:${port + 1}` };
    assert.equal((await call(port, '/backends/s1/drain', { method: 'POST', headers: otherPort })).status, 403, 'another port is another origin');
    assert.equal(state(), 'active');
    assert.equal(lb.lb.strategy.name, 'round-robin');
    assert.deepEqual(
      lb.registry.current().backends.map((b) => b.id),
      ['s1'],
    );
  });

  it('refuses Sec-Fetch-Site: cross-site and same-site (403), even with JSON', async () => {
    for (const site of ['cross-site', 'same-site']) {
      const r = await call(port, '/backends/s1/drain', { method: 'POST', headers: { 'content-type': 'application/json', 'sec-fetch-site': site } });
      assert.equal(r.status, 403, site);
      assert.equal(code(r), 'SWY_ADMIN_CROSS_SITE');
    }
    assert.equal(state(), 'active');
  });

  it('answers 415 to a change with neither JSON nor Authorization, and changes nothing', async () => {
    for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'multipart/form-data; boundary=x' }] as Record<string, string>[]) {
      const r = await call(port, '/backends/s1/drain', { method: 'POST', headers });
      assert.equal(r.status, 415, JSON.stringify(headers));
      assert.equal(code(r), 'SWY_ADMIN_CONTENT_TYPE');
    }
    assert.equal(state(), 'active');
  });

  it('accepts what curl and the dashboard send: JSON without Origin, or with its own Origin and same-origin', async () => {
    const curl = await call(port, '/backends/s1/drain', { method: 'POST', headers: { 'content-type': 'application/json' } });
    assert.equal(curl.status, 200, curl.body);
    assert.equal(state(), 'draining');
    const browser = await call(port, '/backends/s1/activate', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(browser.status, 200, browser.body);
    assert.equal(state(), 'active');
  });

  it('answers 421 to a Host that does not name the admin API, on reads, writes, probes and the dashboard', async () => {
    for (const [method, path] of [
      ['GET', '/backends'],
      ['GET', '/stats'],
      ['GET', '/healthz'],
      ['GET', '/readyz'],
      ['GET', '/'],
      ['GET', '/dashboard/app.js'],
      ['GET', '/events'],
      ['GET', '/metrics'],
      ['POST', '/backends/s1/drain'],
    ] as const) {
      const r = await call(port, path, { method, headers: { host: `attacker.example:${port}`, 'content-type': 'application/json' } });
      assert.equal(r.status, 421, `${method} ${path}`);
      assert.equal(code(r), 'SWY_ADMIN_MISDIRECTED');
    }
    assert.equal(state(), 'active');
  });

  it('accepts loopback names with any port in Host', async () => {
    for (const host of [`127.0.0.1:${port}`, 'localhost', 'LOCALHOST:80', `127.3.4.5:${port}`, `[::1]:${port}`, 'localhost.']) {
      assert.equal((await call(port, '/healthz', { headers: { host } })).status, 200, host);
    }
  });

  it('answers 400 to a request without Host', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET /backends HTTP/1.0\r\n\r\n'));
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (text += d));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /SWY_ADMIN_BAD_HOST/);
  });

  it('accepts the names of --admin-allowed-hosts and a specific --admin-host, and no other', async () => {
    const named = await serveAdmin(lb, { host: '10.1.2.3', allowedHosts: ['balancer', 'Admin.Internal'] });
    try {
      for (const host of ['balancer:9091', 'balancer', 'admin.internal', '10.1.2.3:9091', 'localhost:9091']) {
        assert.equal((await call(named.port, '/backends', { headers: { host } })).status, 200, host);
      }
      for (const host of ['balancer.evil.example', 'evil-balancer', '10.1.2.4:9091', 'internal']) {
        assert.equal((await call(named.port, '/backends', { headers: { host } })).status, 421, host);
      }
      const write = await call(named.port, '/backends/s1/drain', { method: 'POST', headers: { host: 'attacker.example', 'content-type': 'application/json' } });
      assert.equal(write.status, 421);
      assert.equal(state(), 'active');
    } finally {
      await named.close();
    }
  });

  it('sends no-sniff and no-framing headers', async () => {
    const page = await call(port, '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
  });
});

describe('admin API with a token', () => {
  let backend: TestBackend;
  let lb: TestBalancer;
  let port: number;
  const bearer = { authorization: `Bearer ${TOKEN}` };

  before(async () => {
    backend = await TestBackend.start('t1');
    lb = await TestBalancer.start({ backends: [backend.spec()], adminToken: TOKEN });
    port = lb.adminPort;
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  const reads = ['/backends', '/backends/t1', '/stats', '/metrics', '/events', '/info', '/strategy', '/queue/status'];

  it('requires it on every read, /metrics and /events included (401, WWW-Authenticate: Bearer)', async () => {
    for (const path of reads) {
      const r = await call(port, path);
      assert.equal(r.status, 401, path);
      assert.match(String(r.headers['www-authenticate']), /^Bearer /, path);
      assert.equal(code(r), 'SWY_ADMIN_UNAUTHORIZED');
      const wrong = await call(port, path, { headers: { authorization: 'Bearer not-the-token' } });
      assert.equal(wrong.status, 401, `${path} with a wrong token`);
      assert.equal((await call(port, path, { headers: bearer })).status, 200, `${path} with the token`);
    }
  });

  it('leaves /healthz, /readyz and the dashboard page open', async () => {
    for (const path of ['/healthz', '/readyz', '/', '/dashboard/app.js', '/dashboard/style.css']) {
      assert.equal((await call(port, path)).status, 200, path);
    }
  });

  it('takes curl with the token alone: no body, no content type', async () => {
    const drain = await call(port, '/backends/t1/drain', { method: 'POST', headers: bearer });
    assert.equal(drain.status, 200, drain.body);
    assert.equal(lb.lb.upstreams.get('t1')!.spec.state, 'draining');
    assert.equal((await call(port, '/backends/t1/activate', { method: 'POST', headers: bearer })).status, 200);
    assert.equal(lb.lb.upstreams.get('t1')!.spec.state, 'active');
  });

  it('still refuses a cross-site change that carries the token', async () => {
    const r = await call(port, '/backends/t1/drain', { method: 'POST', headers: { ...bearer, origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    assert.equal(lb.lb.upstreams.get('t1')!.spec.state, 'active');
  });

  it('logs in with POST /session: a random HttpOnly SameSite=Strict cookie that then opens every route, until logout', async () => {
    const json = { 'content-type': 'application/json' };
    const wrong = await call(port, '/session', { method: 'POST', headers: json, body: JSON.stringify({ token: 'guess-guess-guess' }) });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['set-cookie'], undefined);
    const crossSite = await call(port, '/session', {
      method: 'POST',
      headers: { ...json, origin: 'http://evil.example' },
      body: JSON.stringify({ token: TOKEN }),
    });
    assert.equal(crossSite.status, 403, 'the login is a change too');
    assert.equal((await call(port, '/session', { method: 'POST', body: JSON.stringify({ token: TOKEN }) })).status, 415);

    const login = await call(port, '/session', {
      method: 'POST',
      headers: { ...json, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ token: TOKEN }),
    });
    assert.equal(login.status, 204, login.body);
    const setCookie = String(login.headers['set-cookie']);
    assert.match(setCookie, /^switchyard_admin_session=[A-Za-z0-9_-]{43}; /);
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    assert.match(setCookie, /; Path=\//);
    assert.match(setCookie, /; Max-Age=43200/);
    assert.ok(!setCookie.includes(TOKEN), 'the cookie does not hold the token');
    const cookie = setCookie.split(';')[0]!;

    for (const path of reads) assert.equal((await call(port, path, { headers: { cookie } })).status, 200, `${path} with the session`);
    assert.deepEqual(JSON.parse((await call(port, '/session', { headers: { cookie } })).body), { tokenRequired: true, authenticated: true });
    const drain = await call(port, '/backends/t1/drain', { method: 'POST', headers: { cookie, ...json } });
    assert.equal(drain.status, 200);
    assert.equal((await call(port, '/backends/t1/activate', { method: 'POST', headers: { cookie, ...json } })).status, 200);
    assert.equal((await call(port, '/stats', { headers: { cookie: 'switchyard_admin_session=forged-forged-forged' } })).status, 401);

    const logout = await call(port, '/session', { method: 'DELETE', headers: { cookie, ...json } });
    assert.equal(logout.status, 204);
    assert.match(String(logout.headers['set-cookie']), /Max-Age=0/);
    assert.equal((await call(port, '/stats', { headers: { cookie } })).status, 401, 'the session ended');
  });

  it('keeps sessions bounded in number and lifetime', async () => {
    let now = Date.now();
    const small = await serveAdmin(lb, { token: TOKEN, sessions: { max: 2, ttlMs: 60_000 }, now: () => now });
    try {
      const login = async (): Promise<string> => {
        const r = await call(small.port, '/session', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token: TOKEN }),
        });
        assert.equal(r.status, 204);
        return String(r.headers['set-cookie']).split(';')[0]!;
      };
      const first = await login();
      const second = await login();
      const third = await login();
      assert.equal(small.admin.sessions.size, 2);
      assert.equal((await call(small.port, '/info', { headers: { cookie: first } })).status, 401, 'the oldest session made way');
      assert.equal((await call(small.port, '/info', { headers: { cookie: second } })).status, 200);
      now += 60_001;
      assert.equal((await call(small.port, '/info', { headers: { cookie: third } })).status, 401, 'an expired session');
      assert.equal(small.admin.sessions.size, 0);
    } finally {
      await small.close();
    }
  });
});

describe('admin API: the event stream cap', () => {
  let lb: TestBalancer;

  before(async () => {
    lb = await TestBalancer.start();
  });
  after(async () => {
    await lb.close();
  });

  it('defaults to 64 streams (--admin-max-streams), the 65th gets 503 with Retry-After, and a closed one frees its slot', async () => {
    assert.equal(BALANCER_OPTIONS.adminMaxStreams.default, 64);
    const open: IncomingMessage[] = [];
    try {
      for (let i = 0; i < 64; i++) {
        open.push(
          await new Promise<IncomingMessage>((resolve, reject) => {
            request({ host: '127.0.0.1', port: lb.adminPort, path: '/events', agent: false }, resolve).on('error', reject).end();
          }),
        );
        assert.equal(open[i]!.statusCode, 200, `stream ${i + 1}`);
      }
      assert.equal(lb.admin.live.clients, 64);
      const refused = await call(lb.adminPort, '/events');
      assert.equal(refused.status, 503);
      assert.equal(code(refused), 'SWY_ADMIN_STREAMS_FULL');
      assert.equal(refused.headers['retry-after'], '5');
      assert.equal(lb.admin.live.refused, 1);
      open.pop()!.destroy();
      await waitFor('a slot freed', () => lb.admin.live.clients === 63);
      assert.equal((await call(lb.adminPort, '/events')).status, 200);
    } finally {
      for (const res of open) res.destroy();
    }
  });
});
