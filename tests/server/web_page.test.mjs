// The chat page as a user sees it: headless Chromium (Debian's) driven by playwright-core types
// a prompt, and the assistant's answer streams into the page.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startServer } from './lumen_server.mjs';

let server, context, profile;
before(async () => {
  server = await startServer();
  profile = mkdtempSync(join(tmpdir(), 'lumen-chromium-'));
  // A fresh profile directory (playwright's --user-data-dir) keeps runs independent.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  assert.equal(await server.stop(), 0);
});

test('typing a prompt streams an answer into the page', { timeout: 90000 }, async () => {
  const page = await context.newPage();
  page.setDefaultTimeout(40000);
  // The bundled model writes a whole answer in a few milliseconds, faster than a browser reads;
  // a slow connection (as many users have) spreads the answer's events over time so the test
  // can see the page show each part as it arrives (slow enough that a loaded machine still
  // renders several of them apart).
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions',
    { offline: false, latency: 0, downloadThroughput: 4000, uploadThroughput: -1 });
  await page.goto(server.url + '/');
  assert.equal(await page.title(), 'lumen');

  // Record each text the answer shows, to see it grow piece by piece rather than appear whole.
  await page.evaluate(() => {
    window.seen = [];
    new MutationObserver(() => {
      const answer = document.querySelector('.msg.assistant');
      if (answer) window.seen.push(answer.textContent);
    }).observe(document.getElementById('log'), { childList: true, subtree: true, characterData: true });
  });
  await page.click('summary');  // open the settings, as a user would
  await page.fill('#max', '200');  // long enough to span many deliveries of the slow connection
  await page.fill('#temp', '0');  // the same answer every run
  await page.fill('#prompt', 'Once upon a time');
  await page.press('#prompt', 'Enter');
  await page.waitForSelector('.msg.user');
  await page.waitForFunction(() => !document.getElementById('send').disabled &&
    document.querySelector('.msg.assistant')?.textContent.length > 0);

  const answer = await page.textContent('.msg.assistant');
  assert.ok(answer.trim().length > 10, `answer: ${answer}`);
  assert.equal(await page.textContent('.msg.user'), 'Once upon a time');
  const seen = await page.evaluate(() => window.seen.filter((t) => t.length > 0));
  assert.ok(new Set(seen).size > 2, `the answer appeared in ${new Set(seen).size} steps`);
});
