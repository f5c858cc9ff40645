import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { get, json, loadLoop } from '../helpers/http.js';
import { freePort, freePortRange } from '../helpers/ports.js';
import { REPO_ROOT, SwitchyardProcess } from '../helpers/processes.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** What the page functions read of an element (the tests compile without the DOM library). */
interface DomElement {
  getAttribute(name: string): string | null;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = `${REPO_ROOT}tests/output`;
// As the machine notes say: without the background-networking flags Chromium keeps
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

interface StatsBackend {
  id: string;
  health: string;
  state: string;
  weight: number;
  inFlight: number;
  requestsPerSecond: number;
  share: number;
}

describe('the live dashboard in headless Chromium', () => {
  let demo: SwitchyardProcess;
  let browser: Browser;
  let page: Page;
  let proxyUrl: string;
  let adminUrl: string;
  const problems: string[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Debian's chromium is installed at ${CHROMIUM} (apt-get install chromium)`);
    mkdirSync(OUTPUT, { recursive: true });
    const [basePort, controlBasePort] = [await freePortRange(3), await freePortRange(3)];
    const [port, adminPort] = [await freePort(), await freePort()];
    proxyUrl = `http://127.0.0.1:${port}`;
    adminUrl = `http://127.0.0.1:${adminPort}`;
    demo = new SwitchyardProcess(
      [
        'demo',
        '--backends',
        '3',
        '--port',
        String(port),
        '--admin-port',
        String(adminPort),
        '--base-port',
        String(basePort),
        '--control-base-port',
        String(controlBasePort),
      ],
      {
        // For the rate-limit and ban panel: /limited allows one request an hour; two refusals ban a client.
        SWITCHYARD_RATE_LIMITS: '/limited=1/h burst 1',
        SWITCHYARD_BAN_AFTER: '2',
      },
    );
    // readiness: the demo prints this banner only once its /readyz counts all 3 backends routable (cli/demo.ts).
    await demo.waitForLine(/^Switchyard demo is up/, 30_000);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
  });

  after(async () => {
    await browser?.close();
    await demo?.kill('SIGINT');
    await demo?.kill('SIGKILL');
  });

  const text = (backend: string, field: string): Promise<string> => page.locator(`[data-backend="${backend}"] [data-field="${field}"]`).innerText();
  /** Waits until a card's field shows `value` (a browser-side check, polled by Playwright). */
  const shows = (backend: string, field: string, value: string, timeout: number): Promise<unknown> =>
    page.waitForFunction(`document.querySelector('[data-backend="${backend}"] [data-field="${field}"]')?.textContent === '${value}'`, undefined, { timeout });

  it('loads with no console errors and shows the 3 backends of the demo', async () => {
    await page.goto(`${adminUrl}/`);
    await page.waitForSelector('[data-backend="backend-3"]', { timeout: 10_000 });
    assert.deepEqual(await page.locator('[data-backend]').evaluateAll((els) => (els as unknown as DomElement[]).map((e) => e.getAttribute('data-backend'))), [
      'backend-1',
      'backend-2',
      'backend-3',
    ]);
    for (const b of ['backend-1', 'backend-2', 'backend-3']) assert.equal(await text(b, 'health'), 'healthy');
    assert.match(await page.locator('#live').innerText(), /live/);
    assert.deepEqual(problems, []);
  });

  it('shows the same numbers as /stats, within one refresh', async () => {
    // Steady traffic for a few seconds so rates and shares are not zero (bounded by time: a
    // fixed count can finish in well under a second and leave a burst that the per-second
    // rate shows only after the next second boundary).
    await loadLoop(`${proxyUrl}/`, 20_000, 2, { stopAfterMs: 3000 });
    await sleep(1200);
    const pageSnapshot = (await page.evaluate('window.switchyard.last()')) as { at: string; backends: StatsBackend[] };
    const stats = json<{ at: string; instanceId: string; backends: StatsBackend[] }>(await get(`${adminUrl}/stats`));
    assert.equal(await page.locator('#instance').innerText(), stats.instanceId, 'the page says which balancer it shows');
    const ageMs = Date.parse(stats.at) - Date.parse(pageSnapshot.at);
    assert.ok(ageMs >= 0 && ageMs <= 1500, `the page's snapshot is ${ageMs} ms older than /stats`);
    for (const b of pageSnapshot.backends) {
      const fresh = stats.backends.find((x) => x.id === b.id)!;
      // What the page shows is exactly its snapshot...
      assert.equal(await text(b.id, 'rps'), b.requestsPerSecond.toFixed(1));
      assert.equal(await text(b.id, 'share'), `${(b.share * 100).toFixed(1)} %`);
      assert.equal(await text(b.id, 'inFlight'), String(b.inFlight));
      assert.equal(await text(b.id, 'weight'), String(b.weight));
      // ...and its snapshot agrees with /stats a refresh later.
      assert.equal(b.health, fresh.health);
      assert.equal(b.state, fresh.state);
      assert.equal(b.weight, fresh.weight);
      assert.ok(Math.abs(b.share - fresh.share) < 0.1, `${b.id} share ${b.share} vs ${fresh.share}`);
      assert.ok(
        Math.abs(b.requestsPerSecond - fresh.requestsPerSecond) <= Math.max(2, fresh.requestsPerSecond * 0.35),
        `${b.id} rps ${b.requestsPerSecond} vs ${fresh.requestsPerSecond}`,
      );
    }
  });

  it('shows the recent p99 of the event loop delay and of the wait for a backend connection', async () => {
    const load = loadLoop(`${proxyUrl}/`, 20_000, 2, { stopAfterMs: 4000 });
    try {
      for (const id of ['wait-loop', 'wait-connection']) {
        await waitFor(`#${id} to show a p99`, async () => /^(≤ [\d.]+ ms|> \d+ s)$/.test(await page.locator(`#${id}`).innerText()), 8000, 100);
      }
      // Nothing queues for admission here: the page says so rather than showing 0.
      assert.equal(await page.locator('#wait-queue').innerText(), '–');
    } finally {
      await load;
    }
  });

  it("shows a killed backend's state change within 2 s", async () => {
    const pid = Number(demo.lines.map((l) => /^ {2}backend-2 .* pid (\d+)$/.exec(String(l.msg))?.[1]).find(Boolean));
    assert.ok(pid > 0, 'the demo printed backend-2 pid');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await shows('backend-2', 'health', 'unhealthy', 2000);
    const shownMs = Date.now() - killedAt;
    assert.ok(shownMs <= 2000, `shown after ${shownMs} ms`);
    await page.waitForSelector('#log li[data-type="unhealthy"]', { timeout: 2000 });
  });

  it('switches the strategy from the page', async () => {
    await page.selectOption('#strategy', 'random');
    // Regression: a live update used to put the switcher back to the strategy in use
    // between the choice and the click on Apply, so Apply re-sent the old one.
    const seq = (await page.evaluate('window.switchyard.last().at')) as string;
    await page.waitForFunction(`window.switchyard.last().at !== ${JSON.stringify(seq)}`, undefined, { timeout: 3000 });
    assert.equal(await page.inputValue('#strategy'), 'random', 'a live update keeps the choice not yet applied');
    assert.equal(await page.locator('#strategy-current').innerText(), 'round-robin');
    await page.click('#strategy-form button[type="submit"]');
    await waitFor('the balancer to use random', async () => json<{ strategy: string }>(await get(`${adminUrl}/strategy`)).strategy === 'random', 3000);
    await page.waitForSelector('#log li[data-type="strategy-changed"]', { timeout: 3000 });
    await page.waitForFunction(`document.getElementById('strategy-current').textContent === 'random'`, undefined, { timeout: 3000 });
  });

  it('drains a backend with its button', async () => {
    await page.click('[data-backend="backend-1"] button[data-action="drain"]');
    await shows('backend-1', 'state', 'draining', 3000);
    const r = await loadLoop(`${proxyUrl}/`, 30, 1);
    assert.equal(r.failed, 0);
    assert.equal(r.byBackend.get('backend-1'), undefined, 'no new request reaches a draining backend');
    await page.click('[data-backend="backend-1"] button[data-action="activate"]');
    await shows('backend-1', 'state', 'active', 3000);
  });

  it('shows rate limits and bans, lifts a ban and replaces the rules from the page', async () => {
    await page.waitForSelector('#limits:not([hidden])', { timeout: 5000 });
    await page.waitForFunction(`document.querySelector('#limits-store')?.textContent === 'Counted by this balancer process alone.'`, undefined, {
      timeout: 5000,
    });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(`${proxyUrl}/limited`)).status);
    assert.deepEqual(statuses, [200, 429, 429]);
    assert.equal((await get(`${proxyUrl}/`)).status, 403, 'two refusals banned this client');
    await page.waitForSelector('#bans tr[data-ban="127.0.0.1"]', { timeout: 5000 });
    await page.waitForFunction(`document.querySelector('#limit-rules tr[data-rule="/limited"] [data-field="refused"]')?.textContent === '2'`, undefined, {
      timeout: 5000,
    });
    await page.click('#bans tr[data-ban="127.0.0.1"] button[data-action="lift"]');
    await waitFor('the ban to be lifted', async () => (await get(`${proxyUrl}/`)).status === 200, 3000);
    await page.fill('#limits-rules', '/limited=1000/s burst 1000');
    await page.click('#limits-form button[type="submit"]');
    await waitFor(
      'the new rule',
      async () => json<{ rules: { rule: string }[] }>(await get(`${adminUrl}/rate-limits`)).rules[0]?.rule === '/limited=1000/s burst 1000',
      3000,
    );
    assert.equal((await get(`${proxyUrl}/limited`)).status, 200);
  });

  it('leaves a screenshot for people to look at, and no console errors', async () => {
    await loadLoop(`${proxyUrl}/`, 400, 2, { stopAfterMs: 4000 });
    await sleep(1100);
    await page.screenshot({ path: `${OUTPUT}/dashboard.png`, fullPage: true });
    assert.ok(existsSync(`${OUTPUT}/dashboard.png`));
    assert.deepEqual(problems, []);
  });
});
