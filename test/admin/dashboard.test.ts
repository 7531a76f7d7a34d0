/**
 * The status page (GET /) in a real browser — headless Chromium, Debian's, driven by
 * playwright-core — on a real local cluster (two hubs with PostgreSQL 15 and a witness):
 *
 * 1. The witness's page shows the active hub, the HA state, the three nodes and the bootstrap in
 *    the history, under its Content-Security-Policy (a violation would be reported).
 * 2. The active hub killed (sidecar and postmaster, SIGKILL): without a reload, the page switches
 *    to the other hub and adds the failover to the timeline.
 * 3. The witness killed: the page says it is unreachable and keeps the last data; the witness
 *    restarted: the page is live again, still without a reload.
 */
import { access } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpLogsOnFailure, waitHealthy } from '../hub/support.js';
import { useHubCluster } from '../support/hub-cluster-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const UI_TIMEOUT_MS = 30_000;

const fixture = useHubCluster('dashboard');
let browser: Browser;

async function launchChromium(): Promise<Browser> {
  await access(CHROMIUM).catch(() => {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const byTestId = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`);

/** Waits until the element's text is `text` (the page redraws every second). */
async function waitText(page: Page, id: string, text: string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  await byTestId(page, id).filter({ hasText: new RegExp(`^${text}$`) }).waitFor({ timeout: timeoutMs });
}

describe('the status page in headless Chromium', () => {
  it('shows the active hub, switches to the other hub after a failover without a reload, and survives its member going away', { timeout: 150_000 }, async () => {
    const { cluster, client } = fixture;
    dumpLogsOnFailure(() => cluster);
    const { active, standby } = await waitHealthy(cluster, client, { synchronous: true });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      // A CSP violation is reported on the console; so is a script error.
      if (msg.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED|Failed to fetch/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    const witness = cluster.member('witness').http;
    const response = await page.goto(`http://${witness}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");

    // 1. The active hub, the nodes, the bootstrap, the state.
    await waitText(page, 'active-hub-name', active.name);
    await waitText(page, 'connection', 'live');
    expect(await byTestId(page, 'active-hub-epoch').textContent()).toBe(String(active.epoch));
    expect(await byTestId(page, 'active-hub-address').textContent()).toBe(active.address);
    expect(await byTestId(page, 'served-by').textContent()).toBe('witness');
    await page.locator('[data-testid="ha-state"][data-state="healthy"]').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator('[data-testid="reasons"] li[data-empty="true"]').waitFor({ timeout: UI_TIMEOUT_MS });
    const rows = byTestId(page, 'nodes').locator('tr');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-member')))).toEqual(cluster.members.map((m) => m.name));
    await page.locator(`tr[data-member="${active.name}"][data-active="true"][data-health="green"] td[data-field="postgres"][data-role="primary"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator(`tr[data-member="${standby}"][data-health="green"] td[data-field="postgres"][data-role="standby"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator(`tr[data-member="${standby}"] td[data-field="lag"][data-lag-bytes]`).waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.locator('tr[data-member="witness"] td[data-field="kind"]').textContent()).toBe('witness');
    await page.locator(`[data-testid="history"] li[data-kind="bootstrap"][data-to="${active.name}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    // Marks this document: a reload would lose the mark.
    await page.evaluate(() => ((globalThis as unknown as { hubhaTestMark: number }).hubhaTestMark = 42));

    // 2. Failover: the page follows by itself.
    await cluster.kill(active.name, 'SIGKILL');
    await cluster.killPostgres(active.name);
    await waitText(page, 'active-hub-name', standby);
    expect(await byTestId(page, 'active-hub-epoch').textContent()).toBe(String(active.epoch + 1));
    await page.locator(`[data-testid="history"] li[data-kind="failover"][data-to="${standby}"][data-epoch="${active.epoch + 1}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator(`tr[data-member="${active.name}"][data-health="red"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator(`[data-testid="reasons"] li[data-code="member-unreachable"][data-member="${active.name}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator('[data-testid="ha-state"][data-state="degraded"]').waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.evaluate(() => (globalThis as unknown as { hubhaTestMark?: number }).hubhaTestMark)).toBe(42);

    // 3. The page's own member goes away: unreachable, with the last data still shown.
    await cluster.kill('witness', 'SIGKILL');
    await page.locator('[data-testid="connection"][data-connection="unreachable"]').waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await byTestId(page, 'connection').textContent()).toMatch(/^unreachable since \d\d:\d\d:\d\d · showing data from \d\d:\d\d:\d\d/);
    expect(await byTestId(page, 'active-hub-name').textContent()).toBe(standby);
    expect(await byTestId(page, 'main').getAttribute('class')).toContain('stale');
    cluster.start('witness');
    await waitText(page, 'connection', 'live');
    await waitText(page, 'active-hub-name', standby);
    expect(await page.evaluate(() => (globalThis as unknown as { hubhaTestMark?: number }).hubhaTestMark)).toBe(42);

    expect(problems).toEqual([]);
    await page.close();
  });
});
