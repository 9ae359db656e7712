/**
 * The web console and GraphiQL in a real browser: Debian's Chromium (installed by
 * scripts/setup-test-deps.sh) driven headless through playwright-core, with every request that is
 * not to the service on loopback blocked, so a page that reached for a CDN would break here.
 * Screenshots of each page are saved in the test's temporary directory, removed afterwards unless
 * SKB_CONSOLE_SCREENSHOTS names a directory to keep them in.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScheduleContentSchema, toSchedule } from '../../src/schedules/index.js';
import { ROOT } from '../support/cli.js';
import { startSearchServer, type SearchTestServer } from './search-server.js';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE_PLAN = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

let server: SearchTestServer;
let browser: Browser;
let context: BrowserContext;
let shots: string;
let blocked: string[];
let shipped: Array<{ id: string; kind: string; steps: unknown[] }>;
const shippedOf = (kind: string) => shipped.filter((s) => s.kind === kind).length;
let hostileId: string;

/** The shipped seeds, and a copy of one of them whose first plan text is markup, stored in the service. */
async function stageSchedules(): Promise<void> {
  const report = await server.kb.importJsonl(readFileSync(join(ROOT, 'data/seed-packs/cpu-reference.jsonl'), 'utf8'));
  shipped = [];
  for (const id of report.scheduleIds) {
    const schedule = await server.kb.getSchedule(id);
    shipped.push({ id, kind: schedule!.operation.kind, steps: schedule!.steps });
  }
  const {
    id: _id,
    contentHash: _hash,
    speedup: _speedup,
    ...original
  } = (await server.kb.getSchedule(shipped[0]!.id))!;
  const content = ScheduleContentSchema.parse({
    ...original,
    steps: original.steps.map((step, i) => (i === 0 ? { ...step, plan: HOSTILE_PLAN } : step)),
  });
  await server.kb.addSchedules([content]);
  hostileId = toSchedule(content).id;
}

async function open(path: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}${path}`);
  return page;
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: run scripts/setup-test-deps.sh (it installs Debian's chromium)`);
  shots = process.env.SKB_CONSOLE_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'skb-console-'));
  mkdirSync(shots, { recursive: true });
  server = await startSearchServer();
  await stageSchedules();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  context = await browser.newContext();
  blocked = [];
  const service = new URL(server.url);
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === service.host) return route.continue();
    blocked.push(url.href);
    return route.abort();
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (shots && !process.env.SKB_CONSOLE_SCREENSHOTS) rmSync(shots, { recursive: true, force: true });
});

describe('GraphiQL', () => {
  it('opens offline, introspects, and its docs explorer lists the Query fields', async () => {
    const page = await open('/graphql');
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    await page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().click();
    for (const field of ['schedules', 'similarSchedules', 'exportSchedules', 'searches']) {
      await expect(
        page.locator('.graphiql-doc-explorer').getByText(field, { exact: true }).first().isVisible(),
      ).resolves.toBe(true);
    }
    await shoot(page, 'graphiql');
    await page.close();
  }, 30_000);
});

describe('console pages', () => {
  it('the schedules page lists every shipped schedule', async () => {
    const page = await open('/');
    await expect(page.locator('h1').textContent()).resolves.toBe('Schedules');
    await expect(page.getByText(`${shipped.length + 1} schedules`).isVisible()).resolves.toBe(true);
    await shoot(page, 'schedules');
    // The list is paged: a user follows "next page" until it is gone, and meets every schedule once.
    const listed: string[] = [];
    for (;;) {
      listed.push(...(await page.locator('tbody tr td:first-child a').allTextContents()));
      const next = page.getByRole('link', { name: 'next page' });
      if ((await next.count()) === 0) break;
      await next.click();
      await page.waitForLoadState();
    }
    for (const { id } of shipped) expect(listed).toContain(id);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed).toHaveLength(shipped.length + 1);
    await page.goto(`${server.url}/`);
    // A filter is applied and kept in the form.
    await page.fill('input[name="kind"]', 'softmax');
    await page.click('button[type="submit"]');
    const kinds = await page.locator('tbody tr td:nth-child(2)').allTextContents();
    expect(kinds.length).toBeGreaterThan(0);
    expect(kinds.every((k) => k.startsWith('softmax'))).toBe(true);
    await expect(page.inputValue('input[name="kind"]')).resolves.toBe('softmax');
    await page.close();
  });

  it('a schedule page shows every step, the waterfall and the highlighted code', async () => {
    const longest = [...shipped].sort((a, b) => b.steps.length - a.steps.length)[0]!;
    const page = await open(`/schedules/${longest.id}`);
    await expect(page.locator('h1').textContent()).resolves.toBe(`Schedule ${longest.id}`);
    const stepRows = page.locator('h2:has-text("Plan sequence") + svg + table tbody tr');
    await expect(stepRows.count()).resolves.toBe(longest.steps.length);
    await expect(page.locator('svg.chart rect').count()).resolves.toBe(longest.steps.length + 1);
    await expect(page.locator('pre code.hljs span').count()).resolves.toBeGreaterThan(10);
    await shoot(page, 'schedule');
    await page.close();
  });

  it('a plan text containing <script> renders as text and runs nothing', async () => {
    const page = await open(`/schedules/${hostileId}`);
    await expect(page.locator('td.plan').first().textContent()).resolves.toBe(HOSTILE_PLAN);
    await expect(page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).resolves.toBeUndefined();
    await page.close();
  });

  it('the targets page shows fingerprints; export downloads the filtered schedules as JSONL', async () => {
    const page = await open('/targets');
    await expect(page.locator('tbody tr').count()).resolves.toBeGreaterThan(0);
    await expect(page.locator('pre').first().textContent()).resolves.toMatch(/"kind": "cpu"/);
    // Where the schedules came from, as the targets query says it.
    await expect(page.locator('tbody').textContent()).resolves.toMatch(
      /measured elsewhere and imported|found by searches/,
    );
    await shoot(page, 'targets');
    const exported = await fetch(`${server.url}/export?kind=softmax`);
    expect(exported.headers.get('content-disposition')).toMatch(/attachment/);
    const lines = (await exported.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; operationKey?: string });
    const schedules = lines.filter((l) => l.type === 'schedule');
    expect(schedules.length).toBe(shippedOf('softmax'));
    expect(schedules.every((l) => l.operationKey!.includes('|softmax|'))).toBe(true);
    await page.close();
  });

  it('the new-search form refuses a wrong token, then starts a search whose page updates as samples arrive', async () => {
    const page = await open('/searches/new');
    await page.fill('input[name="shape"]', 'M=96,N=96,K=96');
    await page.fill('input[name="budget"]', '24');
    await page.fill('input[name="token"]', 'not-the-token-at-all');
    await page.click('button[type="submit"]');
    await expect(page.locator('p.error').textContent()).resolves.toMatch(/The API token is wrong/);
    await expect(page.inputValue('input[name="shape"]')).resolves.toBe('M=96,N=96,K=96');

    await page.fill('input[name="token"]', server.token);
    await page.click('button[type="submit"]');
    await page.waitForURL(/\/searches\/[0-9a-f-]{36}$/);
    await expect(page.locator('[data-live-search]').count()).resolves.toBe(1);
    const candidates = async () =>
      Number((await page.locator('h2:has-text("Candidate tree")').textContent())!.match(/\((\d+) candidates\)/)![1]);
    const before = await candidates();
    // No reload from here on: the page's script follows the subscription and redraws the tree.
    await page.waitForFunction(
      (n) => {
        const heading = [...document.querySelectorAll('h2')].find((h) => h.textContent?.startsWith('Candidate tree'));
        const count = Number(heading?.textContent?.match(/\((\d+) candidates\)/)?.[1] ?? 0);
        return count > n;
      },
      before,
      { timeout: 120_000 },
    );
    expect(await candidates()).toBeGreaterThan(before);
    await shoot(page, 'search-live');
    await page.waitForSelector('.status-finished', { timeout: 240_000 });
    await expect(page.locator('[data-live-search]').count()).resolves.toBe(0);
    await expect(page.locator('svg.chart path').count()).resolves.toBe(1);
    await shoot(page, 'search-finished');
    const list = await open('/searches');
    await expect(list.locator('tbody tr').count()).resolves.toBe(1);
    await shoot(list, 'searches');
    await list.close();
    await page.close();
  }, 300_000);

  it('every page sent a Content-Security-Policy, and nothing reached past loopback', async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'self'/);
    expect(blocked).toEqual([]);
  });
});
