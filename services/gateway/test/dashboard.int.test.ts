/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core): it loads with
 * nothing from the network but the gateway, shows counts that came through Kafka, filters, and
 * reconnects by itself when the gateway restarts. A screenshot lands in .cache/screenshots/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { produce, startGateway, windowResult, type RunningGateway } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path)) ?? 'chromium';
const SCREENSHOTS = fileURLToPath(new URL('../../../.cache/screenshots/', import.meta.url));

describe('dashboard page in headless Chromium', () => {
  let gw: RunningGateway;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const minute = Math.floor(Date.now() / 60_000) * 60;

  const row = (account: number, store: string) => page.locator(`#current tbody tr[data-account="${account}"][data-store="${store}"]`);

  beforeAll(async () => {
    gw = await startGateway();
    await produce(gw.topic, [
      // Earlier windows, for the chart.
      ...[5, 4, 3, 2, 1].map((ago) => windowResult({ account_id: 1, store_id: 'web', window: [minute - ago * 60, minute - ago * 60 + 60], count: 10 + ago, final: true })),
      windowResult({ account_id: 1, store_id: 'web', window: [minute, minute + 60], count: 7 }),
      windowResult({ account_id: 1, store_id: 'app', window: [minute, minute + 60], count: 3 }),
      windowResult({ account_id: 2, store_id: 'web', window: [minute, minute + 60], count: 5 }),
    ]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 640 } });
    page.on('request', (request) => requests.push(request.url()));
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('loads self-contained and shows the counts that arrived through Kafka', async () => {
    await page.goto(gw.baseUrl);
    await page.locator('#status[data-state="live"]').waitFor();
    await expect.poll(() => row(1, 'web').locator('td.count').textContent()).toBe('7');
    expect(await row(1, 'app').locator('td.count').textContent()).toBe('3');
    expect(await row(2, 'web').locator('td.count').textContent()).toBe('5');
    // Six windows in the chart: five closed ones and the current one.
    expect(await page.locator('#chart rect').count()).toBe(6);
    // Nothing but the gateway was asked for anything (no CDN, works offline).
    expect(requests.every((url) => url.startsWith(gw.baseUrl) || url.startsWith(gw.wsUrl))).toBe(true);

    await produce(gw.topic, [windowResult({ account_id: 1, store_id: 'web', window: [minute, minute + 60], count: 8 })]);
    await expect.poll(() => row(1, 'web').locator('td.count').textContent()).toBe('8');
  });

  it('filters by account', async () => {
    await page.fill('#filter-account', '2');
    await page.click('#apply');
    await expect.poll(() => page.locator('#current tbody tr').count()).toBe(1);
    expect(await row(2, 'web').locator('td.count').textContent()).toBe('5');

    // Account 1 changes first, then account 2: once the second shows, the first was filtered out.
    await produce(gw.topic, [
      windowResult({ account_id: 1, store_id: 'web', window: [minute, minute + 60], count: 9 }),
      windowResult({ account_id: 2, store_id: 'web', window: [minute, minute + 60], count: 6 }),
    ]);
    await expect.poll(() => row(2, 'web').locator('td.count').textContent()).toBe('6');
    expect(await page.locator('#current tbody tr[data-account="1"]').count()).toBe(0);
    expect(new URL(page.url()).searchParams.get('account')).toBe('2');

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.click('#clear');
    await expect.poll(() => page.locator('#current tbody tr').count()).toBe(3);
    await page.screenshot({ path: `${SCREENSHOTS}gateway-dashboard.png`, fullPage: true });
  });

  it('reconnects by itself when the gateway restarts', async () => {
    const { port, topic } = gw;
    await gw.close();
    await page.locator('#status[data-state="reconnecting"]').waitFor();
    gw = await startGateway({ HTTP_PORT: String(port) }, topic);
    await page.locator('#status[data-state="live"]', { hasText: 'live' }).waitFor({ timeout: 20_000 });
    await expect.poll(() => row(2, 'web').locator('td.count').textContent()).toBe('6');
  });
});
