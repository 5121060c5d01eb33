// The developer's day (issue 20) in Chromium against a real `shipwatch serve`: a forward's state
// shows on its feed row after a reload (it comes with the list, not only from live events), the
// status bar warns while the forward target refuses connections, the search finds a delivery by its
// customer's name, and the feed keeps a received-time range (presets and two dates) in the URL.
// Run: node --test tests/e2e/forward-search.test.mjs   (builds target/debug/shipwatch and ui/dist when missing)
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, ensureBuilt, launchBrowser, makeBody, postDelivery, startServe } from './helpers.mjs';

const SECRET = 'e2e-forward-search-secret-31c';

async function shot(page, name) {
  await page.waitForTimeout(120);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** A loopback port nothing listens on: connecting to it is refused. */
async function refusingPort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** Polls `fn` (an API read) until it returns something truthy; at most `tries` × 100 ms. */
async function until(fn, tries, what) {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting: ${what}`);
}

const localDay = (d) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

describe('forward state, search and time range', () => {
  let serve;
  let browser;
  let page;
  let target;

  before(async () => {
    ensureBuilt();
    serve = await startServe({ secret: SECRET });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(serve.inspectorUrl);
    // Once the app is up (its first-run redirect to Setup has happened), then to the feed.
    await page.getByTestId('status-bar').waitFor();
    await page.evaluate(() => (location.hash = '#/feed'));
    await page.getByTestId('feed-view').waitFor();
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
  });

  it('a retrying forward keeps its mark after a reload, and the status bar says the target keeps failing', async () => {
    target = `http://127.0.0.1:${await refusingPort()}/hooks/aftership`;
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ forward_url: target }) });
    const grace = makeBody({ trackingNumber: 'FWDGRACE1', orderId: 'ORD-7001', title: 'Walnut desk lamp' });
    grace.msg.customer_name = 'Grace Hopper';
    grace.msg.emails = ['grace@navy.example'];
    assert.equal((await postDelivery(serve.receiverUrl, grace, { secret: SECRET })).status, 200);
    const other = makeBody({ trackingNumber: 'FWDOTHER2', orderId: 'ORD-7002', title: 'Linen cushions' });
    other.msg.customer_name = 'Alan Turing';
    assert.equal((await postDelivery(serve.receiverUrl, other, { secret: SECRET })).status, 200);

    // The target refuses: both retry; once the oldest has failed 3 attempts the status warns.
    const status = await until(
      async () => {
        const s = await serve.api('/api/status');
        return s.warnings.some((w) => w.startsWith('Forwarding to ')) && s;
      },
      300,
      'the forward warning',
    );
    const warning = status.warnings.find((w) => w.startsWith('Forwarding to '));
    assert.match(warning, new RegExp(`^Forwarding to ${target.replace(/[.:/]/g, '\\$&')} has failed since .+ UTC: 2 deliveries queued \\(last error: .+\\)$`));

    await page.reload();
    await page.getByTestId('feed-view').waitFor();
    for (const tn of ['FWDGRACE1', 'FWDOTHER2']) {
      const mark = page.locator(`[data-testid="feed-row"]:has-text("${tn}") [data-testid="forward-mark"]`);
      await mark.waitFor();
      assert.equal(await mark.getAttribute('data-state'), 'retrying');
      assert.match(await mark.getAttribute('title'), /^Forwarding to .* failed \(.*attempt/);
    }
    const bar = page.getByTestId('sb-warnings');
    await bar.waitFor();
    assert.match(await bar.getAttribute('title'), /Forwarding to .* has failed since .*: 2 deliveries queued/);
    await shot(page, 'forward-retrying-after-reload');

    // Forward mode off: the queued forwards are given up (no live event says so). Only the list can
    // tell the row after a reload.
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ forward_url: '' }) });
    await page.reload();
    await page.getByTestId('feed-view').waitFor();
    const gaveUp = page.locator('[data-testid="feed-row"]:has-text("FWDGRACE1") [data-testid="forward-mark"]');
    await gaveUp.waitFor();
    assert.equal(await gaveUp.getAttribute('data-state'), 'gave_up');
    assert.match(await gaveUp.getAttribute('title'), /Gave up forwarding to .*forward mode was turned off/);
    const s = await serve.api('/api/status');
    assert.ok(!s.warnings.some((w) => w.startsWith('Forwarding to ')), 'the warning went with the queue');
    await shot(page, 'forward-gave-up-after-reload');
  });

  it('finds a delivery by its customer name, not only by identifiers', async () => {
    const search = page.getByTestId('filter-q');
    await search.fill('grace hop');
    await page.waitForFunction(() => location.hash.includes('q=grace'));
    await page.locator('[data-testid="feed-row"]').first().waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="feed-row"]').length === 1);
    const rows = page.getByTestId('feed-row');
    assert.match(await rows.first().innerText(), /FWDGRACE1/);
    await shot(page, 'search-customer-name');
    // An email of the customer, in the URL too: a reload keeps the search.
    await page.evaluate(() => (location.hash = '#/feed?q=navy.example'));
    await page.reload();
    await page.getByTestId('feed-view').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="feed-row"]').length === 1);
    assert.match(await page.getByTestId('feed-row').first().innerText(), /FWDGRACE1/);
    assert.equal(await page.getByTestId('filter-q').inputValue(), 'navy.example');
    await page.getByTestId('clear-filters').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="feed-row"]').length === 2);
  });

  it('keeps a received-time range: a preset, two dates, and the URL', async () => {
    const range = page.getByTestId('filter-range');
    await range.selectOption('hour');
    await page.waitForFunction(() => location.hash.includes('range=hour'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="feed-row"]').length === 2);

    // Custom: yesterday only has nothing; up to today has both.
    await range.selectOption('custom');
    const since = page.getByTestId('filter-since');
    const until = page.getByTestId('filter-until');
    await since.waitFor();
    const today = new Date();
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    await since.fill(localDay(yesterday));
    await until.fill(localDay(yesterday));
    await page.waitForFunction((d) => location.hash.includes(`until=${d}`), localDay(yesterday));
    await page.getByText('No deliveries match these filters').waitFor();
    await shot(page, 'range-yesterday-empty');
    await until.fill(localDay(today));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="feed-row"]').length === 2);
    // The range is in the URL: a reload keeps it, with the search.
    await page.evaluate(() => (location.hash = location.hash + '&q=Turing'));
    await page.reload();
    await page.getByTestId('feed-view').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="feed-row"]').length === 1);
    assert.match(await page.getByTestId('feed-row').first().innerText(), /FWDOTHER2/);
    assert.equal(await page.getByTestId('filter-range').inputValue(), 'custom');
    assert.equal(await page.getByTestId('filter-since').inputValue(), localDay(yesterday));
    assert.equal(await page.getByTestId('filter-until').inputValue(), localDay(today));
    await shot(page, 'range-custom-and-search');
  });
});
