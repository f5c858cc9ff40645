import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { TestBackend } from '../helpers/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// As in dashboard-browser.test.ts: without the background-networking flags Chromium keeps
// dialling out of a closed network.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
const TOKEN = 'dashboard-login-token-42';

describe('the dashboard of an admin API with a token, in headless Chromium', () => {
  let backends: TestBackend[];
  let lb: SwitchyardProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let adminUrl: string;
  const problems: string[] = [];
  const bearer = { authorization: `Bearer ${TOKEN}` };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Debian's chromium is installed at ${CHROMIUM} (apt-get install chromium)`);
    backends = await Promise.all(['d1', 'd2'].map((id) => TestBackend.start(id)));
    const adminPort = await freePort();
    adminUrl = `http://127.0.0.1:${adminPort}`;
    lb = new SwitchyardProcess(
      [
        'balancer',
        '--host',
        '127.0.0.1',
        '--port',
        String(await freePort()),
        '--admin-port',
        String(adminPort),
        '--health-interval',
        '200ms',
        '--health-timeout',
        '100ms',
        '--backends',
        backends.map((b) => `${b.state.id}=${b.url}`).join(','),
      ],
      { SWITCHYARD_ADMIN_TOKEN: TOKEN },
    );
    await lb.waitReady(adminUrl, 2);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('console', (m) => {
      // The one expected error: the browser reports the 401 of the wrong token tried below.
      if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
  });

  after(async () => {
    await browser?.close();
    await lb?.kill();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('asks for the token, with nothing of the API shown, and refuses a wrong one', async () => {
    await page.goto(`${adminUrl}/`);
    await page.waitForSelector('#login-form', { state: 'visible', timeout: 10_000 });
    assert.equal(await page.locator('[data-backend]').count(), 0);
    assert.equal(await page.isHidden('#main'), true);
    await page.fill('#login-token', 'not-the-token-at-all');
    await page.click('#login-form button[type="submit"]');
    await page.waitForSelector('#login-error', { state: 'visible', timeout: 5000 });
    assert.match(await page.locator('#login-error').innerText(), /wrong token/i);
    assert.deepEqual(await context.cookies(), []);
  });

  it('logs in with the token: backend rows from the API, then a live update over the stream', async () => {
    await page.fill('#login-token', TOKEN);
    await page.click('#login-form button[type="submit"]');
    await page.waitForSelector('[data-backend="d2"]', { timeout: 10_000 });
    assert.equal(await page.isHidden('#login'), true);
    assert.ok(!page.url().includes(TOKEN), 'the token is in no URL');
    assert.equal(await page.evaluate('sessionStorage.length + localStorage.length'), 0, 'nor in browser storage');

    const cookies = await context.cookies();
    assert.equal(cookies.length, 1);
    assert.equal(cookies[0]!.name, 'switchyard_admin_session');
    assert.equal(cookies[0]!.httpOnly, true);
    assert.equal(cookies[0]!.sameSite, 'Strict');
    assert.equal(cookies[0]!.path, '/');
    assert.notEqual(cookies[0]!.value, TOKEN);

    await page.waitForFunction(`document.getElementById('live').textContent === 'live'`, undefined, { timeout: 5000 });
    // A change made elsewhere (curl with the token) reaches the page through /events.
    assert.equal((await get(`${adminUrl}/backends/d2/drain`, { method: 'POST', headers: bearer })).status, 200);
    await page.waitForFunction(`document.querySelector('[data-backend="d2"] [data-field="state"]')?.textContent === 'draining'`, undefined, { timeout: 3000 });
    // And a change from the page (its button) goes through with the cookie alone.
    await page.click('[data-backend="d2"] button[data-action="activate"]');
    await page.waitForFunction(`document.querySelector('[data-backend="d2"] [data-field="state"]')?.textContent === 'active'`, undefined, { timeout: 3000 });
    assert.equal((JSON.parse((await get(`${adminUrl}/backends/d2`, { headers: bearer })).body) as { state: string }).state, 'active');
  });

  it('logs out: the form is back and the cookie opens nothing any more', async () => {
    const cookie = (await context.cookies())[0]!;
    await page.click('#logout');
    await page.waitForSelector('#login-form', { state: 'visible', timeout: 5000 });
    assert.equal((await get(`${adminUrl}/stats`, { headers: { cookie: `${cookie.name}=${cookie.value}` } })).status, 401);
    assert.deepEqual(problems, []);
  });
});
