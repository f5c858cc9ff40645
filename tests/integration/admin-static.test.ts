import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createAdmin } from '../../balancer/admin/admin-app.js';
import { createLogger } from '../../common/logger.js';
import { TestBalancer } from '../helpers/stack.js';

const TOKEN = 'admin-static-token-7';
const DASHBOARD_SRC = fileURLToPath(new URL('../../balancer/admin/dashboard/', import.meta.url));
const SECRET = 'SECRET-OUTSIDE-THE-DASHBOARD';

interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** One GET (or `method`) with the path sent exactly as given: no normalisation of `..` or encodings. */
function call(port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function errorOf(a: Answer): { code?: string; message?: string } {
  try {
    return (JSON.parse(a.body) as { error?: { code?: string; message?: string } }).error ?? {};
  } catch {
    return {};
  }
}

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly file?: string;
  readonly err?: { code?: string; message?: string };
}

/**
 * An admin API over a dashboard directory made for the test, beside a file
 * that must never be served: app.js missing, style.css a directory, loop.js a
 * symlink to itself, a dotfile. Its log lines are kept.
 */
async function brokenDashboard(root: string, opts: { withPage: boolean }): Promise<{ port: number; dir: string; logs: LogLine[]; close(): Promise<void> }> {
  const dir = join(root, opts.withPage ? 'dashboard' : 'dashboard-no-page');
  cpSync(DASHBOARD_SRC, dir, { recursive: true });
  unlinkSync(join(dir, 'app.js'));
  unlinkSync(join(dir, 'style.css'));
  mkdirSync(join(dir, 'style.css'));
  symlinkSync('loop.js', join(dir, 'loop.js'));
  writeFileSync(join(dir, '.hidden'), SECRET);
  if (!opts.withPage) unlinkSync(join(dir, 'index.html'));
  const logs: LogLine[] = [];
  const logger = createLogger('balancer', 'debug', { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const t = await TestBalancer.start();
  const admin = createAdmin(t.lb, { token: TOKEN, logger, processMetrics: false, dashboardDir: dir });
  const server: Server = createServer(admin.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    dir,
    logs,
    close: async () => {
      admin.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await t.close();
    },
  };
}

/** Nothing of the server's filesystem or of the underlying error in an answer. */
function assertNothingInternal(a: Answer, dir: string, what: string): void {
  assert.ok(!a.body.includes(dir) && !a.body.includes(DASHBOARD_SRC), `${what}: no filesystem path in ${a.body}`);
  assert.doesNotMatch(a.body, /ENOENT|EISDIR|ELOOP|EACCES|stat|open '|\/tmp\/|\/app\//, `${what}: no error detail in ${a.body}`);
  assert.ok(!a.body.includes(SECRET), `${what}: nothing outside the dashboard's files`);
}

describe('admin API: the dashboard as shipped', () => {
  let t: TestBalancer;

  before(async () => {
    t = await TestBalancer.start({ adminToken: TOKEN });
  });

  after(async () => {
    await t?.close();
  });

  it('serves the page and its files without a token, with their types', async () => {
    const page = await call(t.adminPort, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.body, /<html/);
    for (const [name, type] of [
      ['app.js', /^(text|application)\/javascript/],
      ['style.css', /^text\/css/],
    ] as const) {
      const a = await call(t.adminPort, `/dashboard/${name}`);
      assert.equal(a.status, 200, name);
      assert.match(String(a.headers['content-type']), type, name);
      assert.equal(a.headers['x-content-type-options'], 'nosniff');
      const head = await call(t.adminPort, `/dashboard/${name}`, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
    }
  });

  it('answers a name that is not there with 404 SWY_ADMIN_NOT_FOUND and no path', async () => {
    for (const name of ['nope.js', 'index.htm', 'app.js.map', 'a'.repeat(100)]) {
      const a = await call(t.adminPort, `/dashboard/${name}`);
      assert.equal(a.status, 404, name);
      assert.deepEqual(errorOf(a), { code: 'SWY_ADMIN_NOT_FOUND', message: 'no such dashboard file' });
      assert.equal(a.headers['cache-control'], 'no-store');
      assertNothingInternal(a, DASHBOARD_SRC, name);
    }
  });

  it('refuses hostile names with 404 or 400, never serving or naming anything outside the dashboard', async () => {
    const hostile = [
      '/dashboard/../../etc/passwd',
      '/dashboard/../admin-app.js',
      '/dashboard/%2e%2e/%2e%2e/etc/passwd',
      '/dashboard/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
      '/dashboard/..%2f..%2fetc%2fpasswd',
      '/dashboard/..%5c..%5cetc%5cpasswd',
      '/dashboard/%2fetc%2fpasswd',
      '/dashboard//etc/passwd',
      '/dashboard/sub/../app.js',
      '/dashboard/app.js%00.png',
      '/dashboard/%00',
      '/dashboard/.hidden',
      '/dashboard/%2ehidden',
      '/dashboard/',
      '/dashboard/.',
      `/dashboard/${'a'.repeat(101)}`,
      `/dashboard/${'x'.repeat(8000)}.js`,
      '/dashboard/%zz',
      '/dashboard/%',
      // The dashboard prefix is an open route: a traversal must not reach a guarded one.
      '/dashboard/../stats',
      '/dashboard/%2e%2e/backends',
    ];
    for (const path of hostile) {
      const a = await call(t.adminPort, path);
      const label = path.length > 60 ? `${path.slice(0, 60)}...` : path;
      assert.ok(a.status === 404 || a.status === 400, `${label}: ${a.status} ${a.body}`);
      const err = errorOf(a);
      assert.equal(err.code, a.status === 404 ? 'SWY_ADMIN_NOT_FOUND' : 'SWY_ADMIN_BAD_REQUEST', label);
      assertNothingInternal(a, DASHBOARD_SRC, label);
      assert.doesNotMatch(a.body, /root:|backends|instanceId/, `${label}: no file or API answer leaked`);
    }
  });

  it('leaves other methods on /dashboard to the rest of the API', async () => {
    // Not an open route for a change: the token comes first...
    assert.equal((await call(t.adminPort, '/dashboard/app.js', 'DELETE', { 'content-type': 'application/json' })).status, 401);
    // ...and with it, there is no such route; the file is not touched.
    const a = await call(t.adminPort, '/dashboard/app.js', 'DELETE', { authorization: `Bearer ${TOKEN}` });
    assert.equal(a.status, 404);
    assert.deepEqual(errorOf(a), { code: 'SWY_ADMIN_NOT_FOUND', message: 'no such admin route' });
    assert.equal((await call(t.adminPort, '/dashboard/app.js')).status, 200);
  });
});

describe('admin API: a dashboard directory with files missing or broken', () => {
  let root: string;
  let withPage: Awaited<ReturnType<typeof brokenDashboard>>;
  let noPage: Awaited<ReturnType<typeof brokenDashboard>>;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'swy-admin-static-'));
    writeFileSync(join(root, 'secret.txt'), SECRET);
    withPage = await brokenDashboard(root, { withPage: true });
    noPage = await brokenDashboard(root, { withPage: false });
  });

  after(async () => {
    await withPage?.close();
    await noPage?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('a missing file is 404 SWY_ADMIN_NOT_FOUND with no path, and no error in the log', async () => {
    const a = await call(withPage.port, '/dashboard/app.js');
    assert.equal(a.status, 404);
    assert.deepEqual(errorOf(a), { code: 'SWY_ADMIN_NOT_FOUND', message: 'no such dashboard file' });
    assertNothingInternal(a, withPage.dir, 'app.js');
    assert.deepEqual(
      withPage.logs.filter((l) => l.level === 'error'),
      [],
      'a client asking for a missing name is no server fault',
    );
    // The page itself is still there.
    assert.equal((await call(withPage.port, '/')).status, 200);
  });

  it('a missing page at / (issue 13: the image without the dashboard) is 404 with no path, and logged as an error', async () => {
    const a = await call(noPage.port, '/');
    assert.equal(a.status, 404);
    assert.deepEqual(errorOf(a), { code: 'SWY_ADMIN_NOT_FOUND', message: 'no such dashboard file' });
    assertNothingInternal(a, noPage.dir, '/');
    const line = noPage.logs.find((l) => l.msg === 'dashboard page missing from this installation');
    assert.ok(line, `an error line names the cause: ${JSON.stringify(noPage.logs)}`);
    assert.equal(line.level, 'error');
    assert.equal(line.file, 'index.html');
    assert.equal(line.err?.code, 'ENOENT');
    assert.ok(line.err?.message?.includes(noPage.dir), 'the log has the path the body leaves out');
  });

  for (const [name, code] of [
    ['style.css', 'EISDIR'],
    ['loop.js', 'ELOOP'],
  ] as const) {
    it(`a file that cannot be read (${code}) is 500 SWY_ADMIN_INTERNAL saying nothing internal; the log has the detail`, async () => {
      const before = withPage.logs.length;
      const a = await call(withPage.port, `/dashboard/${name}`);
      assert.equal(a.status, 500);
      assert.deepEqual(errorOf(a), { code: 'SWY_ADMIN_INTERNAL', message: 'internal error' });
      assert.equal(a.headers['cache-control'], 'no-store');
      assertNothingInternal(a, withPage.dir, name);
      const line = withPage.logs.slice(before).find((l) => l.msg === 'dashboard file could not be sent');
      assert.ok(line, `logged: ${JSON.stringify(withPage.logs.slice(before))}`);
      assert.equal(line.level, 'error');
      assert.equal(line.file, name);
      assert.equal(line.err?.code, code);
    });
  }

  it('never serves the file beside the dashboard directory, whatever the spelling', async () => {
    for (const path of [
      '/dashboard/../secret.txt',
      '/dashboard/%2e%2e/secret.txt',
      '/dashboard/%2e%2e%2fsecret.txt',
      '/dashboard/..%5csecret.txt',
      '/dashboard/.hidden',
    ]) {
      const a = await call(withPage.port, path);
      assert.ok(a.status === 404 || a.status === 400, `${path}: ${a.status}`);
      assertNothingInternal(a, withPage.dir, path);
    }
  });
});
