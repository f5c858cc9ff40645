import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { request } from 'undici';
import { LoadRun, describeLoad } from './support/load.js';
import { adminBackends, adminUrl, ensureStack, expectedFromDocker, OUTPUT_DIR, proxyUrl, stackSecret } from './support/stack.js';

/** What the page functions read of an element (the tests compile without the DOM library). */
interface DomElement {
  getAttribute(name: string): string | null;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// As in tests/integration/dashboard-browser.test.ts: without the background-networking flags
// Chromium keeps dialling out of a closed network.
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
/** `make screenshot` copies it to docs/images/dashboard.png. */
const SCREENSHOT = join(OUTPUT_DIR, 'dashboard-stack.png');

/** The cards' (backend id -> shown req/s) and the page's latest snapshot time. */
interface Shown {
  readonly at: string;
  readonly rps: Record<string, string>;
}

/**
 * Issue 13: the dashboard served by the Docker stack itself (the image carries
 * its files), opened on the published admin port in headless Chromium, logged
 * in with the stack's admin token: a card for every backend container, and
 * numbers on the cards that move while load goes through the proxy.
 */
describe('the dashboard of the Docker stack, in headless Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Debian's chromium is installed at ${CHROMIUM} (apt-get install chromium)`);
    await ensureStack(3);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
  });

  after(async () => {
    await browser?.close();
  });

  it('the image carries the dashboard: its page and files answer on the published admin port, a missing one is a clean 404', async () => {
    const page = await request(`${adminUrl}/`, { headersTimeout: 5000 });
    const html = await page.body.text();
    assert.equal(page.statusCode, 200, html);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(html, /<html/);
    for (const name of ['app.js', 'style.css']) {
      const res = await request(`${adminUrl}/dashboard/${name}`, { headersTimeout: 5000 });
      await res.body.dump();
      assert.equal(res.statusCode, 200, name);
    }
    const missing = await request(`${adminUrl}/dashboard/no-such-file.js`, { headersTimeout: 5000 });
    const body = await missing.body.text();
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(JSON.parse(body), { error: { code: 'SWY_ADMIN_NOT_FOUND', message: 'no such dashboard file' } });
    assert.doesNotMatch(body, /\/app\/|ENOENT/, 'no path of the container in the answer');
  });

  it("logs in with the stack's admin token and shows a card for every backend container", async (t: TestContext) => {
    await page.goto(`${adminUrl}/`);
    await page.waitForSelector('#login-form', { state: 'visible', timeout: 10_000 });
    assert.equal(await page.locator('[data-backend]').count(), 0, 'nothing of the API before the login');
    await page.fill('#login-token', stackSecret('SWITCHYARD_ADMIN_TOKEN'));
    await page.click('#login-form button[type="submit"]');
    await page.waitForSelector('[data-backend]', { timeout: 10_000 });
    await page.waitForFunction(`document.getElementById('live').textContent === 'live'`, undefined, { timeout: 10_000 });

    const containers = (await expectedFromDocker()).map((l) => l.split(' ')[0]!);
    const registered = (await adminBackends()).map((b) => b.id).sort();
    assert.equal(containers.length, 3, `3 running, healthy backend containers: ${containers.join(', ')}`);
    assert.deepEqual(registered, containers, 'the balancer knows every backend container');
    await page.waitForFunction(`document.querySelectorAll('[data-backend]').length === ${containers.length}`, undefined, { timeout: 5000 });
    const cards = (
      await page.locator('[data-backend]').evaluateAll((els) => (els as unknown as DomElement[]).map((e) => e.getAttribute('data-backend')))
    ).sort();
    t.diagnostic(`cards: ${cards.join(', ')}`);
    assert.deepEqual(cards, containers, 'one card per backend container');
    for (const id of cards) {
      assert.equal(await page.locator(`[data-backend="${id}"] [data-field="health"]`).innerText(), 'healthy', id);
      assert.equal(await page.locator(`[data-backend="${id}"] [data-field="state"]`).innerText(), 'active', id);
    }
  });

  it("is live: while load goes through the proxy every card's req/s moves, and the screenshot is taken", async (t: TestContext) => {
    // Browser-side code as strings: the test's type-check has no DOM library (as in the integration tests).
    const shown = async (): Promise<Shown> =>
      (await page.evaluate(`({
        at: window.switchyard.last().at,
        rps: Object.fromEntries([...document.querySelectorAll('[data-backend]')].map((el) => [el.getAttribute('data-backend'), el.querySelector('[data-field="rps"]')?.textContent ?? ''])),
      })`)) as Shown;
    const idle = await shown();
    t.diagnostic(`before the load: ${JSON.stringify(idle.rps)}`);
    const load = new LoadRun({ url: `${proxyUrl}/`, concurrency: 6, durationMs: 20_000, maxRequests: 200_000 });
    try {
      // Every card shows a rate above zero that differs from the one before the load.
      await page.waitForFunction(
        `(() => {
          const before = ${JSON.stringify(idle.rps)};
          const cards = [...document.querySelectorAll('[data-backend]')];
          return cards.length > 0 && cards.every((el) => {
            const v = el.querySelector('[data-field="rps"]')?.textContent ?? '';
            return Number(v) > 0 && v !== before[el.getAttribute('data-backend')];
          });
        })()`,
        undefined,
        { timeout: 15_000, polling: 100 },
      );
      const busy = await shown();
      t.diagnostic(`under load: ${JSON.stringify(busy.rps)}`);
      assert.notEqual(busy.at, idle.at, 'the page got new snapshots over /events');
      // Give the chart a few seconds of traffic, then take the picture while the load still runs.
      await new Promise((r) => setTimeout(r, 4000));
      const later = await shown();
      assert.notEqual(later.at, busy.at, 'and keeps getting them');
      assert.ok(Number(await page.locator('#total-rps').innerText()) > 0, 'the total req/s is above zero');
      mkdirSync(OUTPUT_DIR, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } finally {
      const r = await load.stop();
      t.diagnostic(`load: ${describeLoad(r)}`);
      assert.ok(r.ok > 0, 'the proxy answered the load');
    }
    assert.ok(statSync(SCREENSHOT).size > 10_000, `${SCREENSHOT} is a real picture`);
    t.diagnostic(`screenshot: ${SCREENSHOT}`);
    assert.deepEqual(problems, [], 'no console or page errors');
  });
});
