// The page at / in a real browser: Debian's chromium (headless), driven by playwright-core, started here.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type TestServer, models, testServer } from './helpers.js';

const executablePath = '/usr/bin/chromium';
let t: TestServer;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(executablePath)) throw new Error(`${executablePath} is missing: apt-get install -y chromium fonts-noto-cjk (.ci/run does this).`);
  t = await testServer(models.tinyCpm1);
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await t?.server.close();
});

it('type a prompt, see the text stream in, with tokens/s and the model', async () => {
  const page = await browser.newPage();
  await page.goto(t.url);
  await expect.poll(() => page.textContent('#model'), { timeout: 30_000 }).toBe('tiny-cpm1 · cpm1 · cpu · int8');
  await page.fill('#prompt', '春眠不觉晓，');
  await page.fill('#max_tokens', '48');
  await page.fill('#seed', '7');
  // The text arrives in several pieces: the page's own updates of #generated are counted as they happen
  // (polling what it shows would see fewer, the faster the model decodes).
  await page.evaluate(() => {
    const w = window as unknown as { updates: number };
    w.updates = 0;
    new MutationObserver((records) => {
      for (const r of records) if ((r.target as Element).id === 'generated') w.updates++;
    }).observe(document.querySelector('#output') as Node, { childList: true, subtree: true, characterData: true });
  });
  await page.click('#go');
  await expect.poll(() => page.isEnabled('#go'), { interval: 20, timeout: 60_000 }).toBe(true);
  const text = (await page.textContent('#generated')) ?? '';
  expect(text.length).toBeGreaterThan(0);
  expect(await page.evaluate(() => (window as unknown as { updates: number }).updates)).toBeGreaterThan(2);
  expect(await page.textContent('#output .prompt')).toBe('春眠不觉晓，');
  expect(await page.textContent('#stats')).toMatch(/^\d+ tokens · \d+(\.\d)? tokens\/s$/);
  const shot = join(mkdtempSync(join(tmpdir(), 'bminf-server-page-')), 'page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  expect(existsSync(shot)).toBe(true);
});
