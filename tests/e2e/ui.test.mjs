// Browser end-to-end tests: a real `shipwatch serve`, Debian's Chromium, the built UI.
// Run: node --test tests/e2e/   (builds target/debug/shipwatch and ui/dist when missing)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ARTIFACTS, ensureBuilt, launchBrowser, makeBody, postDelivery, startServe } from './helpers.mjs';

const SECRET = 'e2e-secret-4f1c2d';
const TN = '9400111899562537866361';

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Screenshot with a viewport tall enough for a long page, then back. */
async function tallShot(page, name, height = 1500) {
  const vp = page.viewportSize();
  await page.setViewportSize({ width: vp.width, height });
  await page.waitForTimeout(150);
  await shot(page, name);
  await page.setViewportSize(vp);
}

async function goHash(page, hash) {
  await page.evaluate((h) => (location.hash = h), hash);
}

const rows = (page) => page.getByTestId('feed-row');

/** `test` that saves a screenshot of the page as FAIL-<name>.png when it fails. */
function withShots(getPage) {
  return (name, fn) =>
    test(name, async () => {
      try {
        await fn();
      } catch (e) {
        const p = getPage();
        const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
        if (p && !p.isClosed()) await p.screenshot({ path: join(ARTIFACTS, `FAIL-${slug}.png`) }).catch(() => {});
        throw e;
      }
    });
}

describe('inspector with a secret', () => {
  let serve;
  let browser;
  let page;
  const pageErrors = [];
  const it = withShots(() => page);

  before(async () => {
    ensureBuilt();
    serve = await startServe({ secret: SECRET });
    browser = await launchBrowser();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: serve.origin });
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The printed URL carries the token: it sets the cookie and redirects to a clean URL.
    await page.goto(serve.inspectorUrl);
    assert.ok(!page.url().includes('token='), `redirected to a clean URL, got ${page.url()}`);
    await page.getByTestId('status-bar').waitFor();
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });

  it('an empty feed teaches what to do', async () => {
    await goHash(page, '#/feed');
    await page.getByTestId('feed-empty').waitFor();
    const text = await page.getByTestId('feed-empty').innerText();
    assert.match(text, /Waiting for the first delivery/);
    assert.match(text, new RegExp(serve.receiverUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    await page.getByTestId('sb-connection').and(page.locator('[data-state="connected"]')).waitFor();
    await shot(page, '01-feed-empty');
  });

  it('a signed delivery appears in the feed in under a second, without reload', async () => {
    await page.evaluate(() => ((window).__noReload = true));
    const t0 = Date.now();
    const r = await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: TN, orderId: 'ORD-1001' }), { secret: SECRET });
    assert.equal(r.status, 200, r.text);
    const row = rows(page).filter({ hasText: TN }).first();
    await row.waitFor({ timeout: 5000 });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 1000, `appeared after ${elapsed} ms`);
    assert.equal(await page.evaluate(() => (window).__noReload), true, 'the page was not reloaded');
    assert.equal(await row.getAttribute('data-verdict'), 'valid');
    const text = await row.innerText();
    // The courier's display name, not the slug.
    assert.equal(await row.getByTestId('row-slug').getAttribute('data-slug'), 'usps');
    assert.match(text, /USPS/);
    assert.match(text, /In transit/);
    assert.match(text, /PASS/);
    assert.match(text, /200/);
    // The status bar counts it.
    await page.waitForFunction(() => document.querySelector('[data-testid="sb-deliveries"]')?.textContent === '1');
    await shot(page, '02-feed-live');
  });

  it('clicking it opens the inspector and shows pass', async () => {
    await rows(page).filter({ hasText: TN }).first().click();
    await page.getByTestId('delivery-view').waitFor();
    const sig = page.getByTestId('sig-stored');
    assert.equal(await sig.getAttribute('data-verdict'), 'valid');
    assert.match(await sig.innerText(), /Signature valid/);
    assert.match(await page.getByTestId('sig-secret').innerText(), /current/);
    const received = await page.getByTestId('sig-received').innerText();
    assert.equal(received, await page.getByTestId('sig-expected').innerText());
    // Headers table has the signature header; the body is pretty JSON.
    assert.match(await page.getByTestId('headers-table').innerText(), /aftership-hmac-sha256/i);
    assert.match(await page.getByTestId('body-pretty').innerText(), /"tracking_number": "9400111899562537866361"/);
    await page.getByTestId('body-mode-raw').click();
    assert.match(await page.getByTestId('body-raw').innerText(), /^\{"event_id":/);
    await page.getByTestId('body-mode-hex').click();
    assert.match(await page.getByTestId('body-hex').innerText(), /^00000000  7b 22 65 76/);
    await page.getByTestId('body-mode-pretty').click();
    await tallShot(page, '03-delivery-pass', 1700);
  });

  it('copy as curl replays the exact signed bytes to the local receiver', async () => {
    await page.getByTestId('copy-curl').click();
    const cmd = await page.evaluate(() => (window).__lastCopied);
    assert.ok(cmd.includes(serve.receiverUrl), cmd.slice(0, 200));
    assert.match(cmd, /aftership-hmac-sha256: /i);
    assert.match(cmd, /content-type: application\/json/i);
    if (!existsSync('/usr/bin/curl')) return;
    const out = execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
    assert.match(out, /^HTTP\/1\.1 200/m, out);
    // The replay is the same event: stored as a duplicate, signature still valid.
    await goHash(page, '#/feed');
    const dup = rows(page).filter({ hasText: TN }).filter({ has: page.getByTestId('duplicate') }).first();
    await dup.waitFor();
    assert.equal(await dup.getAttribute('data-verdict'), 'valid');
  });

  it('a tampered delivery shows fail with its diagnosis', async () => {
    const tn = '1Z999AA10123456784';
    const r = await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: tn, slug: 'ups', tag: 'InTransit' }), { secret: SECRET, tamper: true });
    assert.equal(r.status, 401, r.text);
    const row = rows(page).filter({ hasText: tn }).first();
    await row.waitFor();
    assert.equal(await row.getAttribute('data-verdict'), 'invalid');
    // The reason in place of a bare FAIL: the body was changed after signing, so no secret matches.
    assert.equal(await row.getByTestId('row-diagnosis').getAttribute('data-diagnosis'), 'wrong_secret');
    assert.match(await row.innerText(), /wrong secret/);
    assert.match(await row.innerText(), /401/);
    await row.click();
    const sig = page.getByTestId('sig-stored');
    await sig.waitFor();
    assert.equal(await sig.getAttribute('data-verdict'), 'invalid');
    const id = Number(await page.getByTestId('delivery-view').getAttribute('data-id'));
    const detail = await serve.api(`/api/deliveries/${id}`);
    const diagnosis = await page.getByTestId('sig-diagnosis').innerText();
    assert.ok(diagnosis.length > 10, 'a diagnosis in words');
    assert.equal(diagnosis, detail.signature.diagnosis);
    if (detail.signature.advice) assert.match(await page.getByTestId('sig-advice').innerText(), /What to do/);
    assert.notEqual(await page.getByTestId('sig-received').innerText(), await page.getByTestId('sig-expected').innerText());
    await tallShot(page, '04-delivery-fail', 1100);
  });

  it('re-verify with another secret typed in place', async () => {
    const tn = 'RV123456789CN';
    const r = await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: tn, slug: 'china-post' }), { secret: 'the-old-secret' });
    assert.equal(r.status, 401);
    await goHash(page, '#/feed');
    await rows(page).filter({ hasText: tn }).first().click();
    await page.getByTestId('sig-stored').waitFor();
    assert.equal(await page.getByTestId('sig-stored').getAttribute('data-verdict'), 'invalid');
    await page.getByTestId('reverify-secret').fill('the-old-secret');
    await page.getByTestId('reverify-button').click();
    const result = page.getByTestId('reverify-result');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-verdict'), 'valid');
    await page.getByTestId('reverify-secret').fill('still-wrong');
    await page.getByTestId('reverify-button').click();
    await page.locator('[data-testid="reverify-result"][data-verdict="invalid"]').waitFor();
    // The typed secret is not kept anywhere.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes('the-old-secret') && !stored.includes('still-wrong'));
    await tallShot(page, '05-delivery-reverify', 1200);
  });

  it('a body that is not UTF-8 opens as a hex dump', async () => {
    const bytes = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xfe, 0x7b, 0x22, 0x0a]);
    const r = await postDelivery(serve.receiverUrl, bytes, { secret: SECRET });
    assert.ok([200, 401].includes(r.status), r.text);
    const [item] = (await serve.api('/api/deliveries?limit=1')).items;
    await goHash(page, `#/delivery/${item.id}`);
    const hex = page.getByTestId('body-hex');
    await hex.waitFor();
    assert.match(await hex.innerText(), /^00000000  1f 8b 08 00 de ad be ef  ff fe 7b 22 0a +\|\.\.\.\.\.\.\.\.\.\.\{"\.\|$/);
    assert.equal(await page.getByTestId('body-mode-pretty').isDisabled(), true);
    assert.equal(await page.getByTestId('body-mode-raw').isDisabled(), true);
    assert.match(await page.getByTestId('body-section').innerText(), /not valid UTF-8/);
    await page.getByTestId('body-section').scrollIntoViewIfNeeded();
    await shot(page, '05b-delivery-hex');
  });

  it('a body over the limit is answered 413 and shown truncated', async () => {
    const big = JSON.stringify({ ...makeBody({ trackingNumber: 'TOOBIG0001' }), padding: 'x'.repeat(1100 * 1024) });
    let status = 0;
    try {
      status = (await postDelivery(serve.receiverUrl, big, { secret: SECRET })).status;
    } catch {
      status = -1; // the receiver may close the connection after answering early
    }
    assert.ok(status === 413 || status === -1, `status ${status}`);
    await goHash(page, '#/feed?verdict=too_large');
    const row = rows(page).first();
    await row.waitFor();
    assert.equal(await row.getAttribute('data-verdict'), 'too_large');
    assert.match(await row.innerText(), /413/);
    await row.click();
    await page.getByTestId('body-truncated').waitFor();
    assert.match(await page.getByTestId('body-truncated').innerText(), /first 64\.0 KiB/);
    await goHash(page, '#/feed');
  });

  it('the shipment page shows its timeline and the deliveries that built it', async () => {
    await goHash(page, '#/feed');
    await rows(page).filter({ hasText: TN }).last().click();
    await page.getByTestId('shipment-link').click();
    await page.getByTestId('shipment-view').waitFor();
    assert.equal(await page.getByTestId('shipment-tn').innerText(), TN);
    const cps = page.getByTestId('checkpoint');
    assert.equal(await cps.count(), 2);
    // Newest first.
    assert.match(await cps.nth(0).innerText(), /Departed Shipping Partner Facility/);
    assert.match(await cps.nth(0).innerText(), /Jan 14, 2021 00:52/);
    assert.match(await cps.nth(1).innerText(), /Picked Up by Shipping Partner/);
    assert.match(await cps.nth(1).innerText(), /NORTH HAVEN, CT/);
    assert.ok((await page.getByTestId('courier-link').getAttribute('href')).startsWith('https://tools.usps.com/'));
    assert.ok((await page.getByTestId('shipment-delivery').count()) >= 1);
    await tallShot(page, '06-shipment', 1100);
    // A new delivery for the shipment updates the page live.
    await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: TN, orderId: 'ORD-1001', tag: 'OutForDelivery', ts: Math.floor(Date.now() / 1000) + 60 }), { secret: SECRET });
    await page.getByTestId('shipment-hero').filter({ hasText: 'Out for delivery' }).waitFor();
    // From the shipment back to a delivery.
    await page.getByTestId('shipment-delivery').first().click();
    await page.getByTestId('delivery-view').waitFor();
  });

  it('shipments list: counts by tag, chips filter', async () => {
    await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: '7712345678901', slug: 'fedex', tag: 'Delivered', orderId: 'ORD-2002' }), { secret: SECRET });
    await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: 'JD014600003828374451', slug: 'dhl', tag: 'Exception', orderId: 'ORD-3003' }), { secret: SECRET });
    await goHash(page, '#/shipments');
    await page.getByTestId('shipment-row').filter({ hasText: 'JD014600003828374451' }).waitFor();
    assert.equal(await page.getByTestId('shipment-row').count(), 3);
    const delivered = page.locator('[data-testid="tag-chip"][data-tag="Delivered"]');
    assert.match(await delivered.innerText(), /1/);
    await shot(page, '07-shipments');
    await delivered.click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="shipment-row"]').length === 1);
    assert.match(await page.getByTestId('shipment-row').innerText(), /7712345678901/);
    await goHash(page, '#/shipments');
    await page.getByTestId('shipment-search').fill('ORD-3003');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="shipment-row"]').length === 1);
    assert.match(await page.getByTestId('shipment-row').innerText(), /JD014600003828374451/);
  });

  it('feed filters and search work, and live rows respect them', async () => {
    await goHash(page, '#/feed');
    await rows(page).first().waitFor();
    const all = await rows(page).count();
    assert.ok(all >= 7, `${all} rows`);

    await page.getByTestId('filter-verdict').selectOption('failed');
    await page.waitForFunction(() => location.hash.includes('verdict=failed'));
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="feed-row"]')].every((r) => r.dataset.verdict !== 'valid'));
    const failed = await rows(page).evaluateAll((rs) => rs.map((r) => r.dataset.verdict));
    assert.ok(failed.length >= 2 && failed.every((v) => ['invalid', 'missing', 'malformed', 'too_large'].includes(v)), failed.join());
    // A valid delivery arriving now stays out; a failed one comes in live.
    await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: 'LIVEVALID0001', slug: 'usps' }), { secret: SECRET });
    await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: 'LIVEFAIL0001', slug: 'usps' }), { signature: null });
    await rows(page).filter({ hasText: 'LIVEFAIL0001' }).waitFor();
    assert.equal(await rows(page).filter({ hasText: 'LIVEVALID0001' }).count(), 0);
    await shot(page, '08-feed-filter-failed');

    await page.getByTestId('filter-verdict').selectOption('');
    await page.getByTestId('filter-tag').selectOption('Delivered');
    await page.waitForFunction(() => {
      const rs = [...document.querySelectorAll('[data-testid="feed-row"]')];
      return rs.length > 0 && rs.every((r) => r.querySelector('[data-testid="tag-badge"]')?.getAttribute('data-tag') === 'Delivered');
    });
    await page.getByTestId('filter-tag').selectOption('');

    await page.getByTestId('filter-slug').fill('dhl');
    await page.waitForFunction(() => {
      const rs = [...document.querySelectorAll('[data-testid="row-slug"]')];
      return rs.length === 1 && rs[0].dataset.slug === 'dhl';
    });
    await page.getByTestId('filter-slug').fill('');

    await page.getByTestId('filter-q').fill('ord-2002');
    await page.waitForFunction(() => {
      const rs = [...document.querySelectorAll('[data-testid="row-tracking"]')];
      return rs.length === 1 && rs[0].textContent === '7712345678901';
    });
    assert.match(page.url(), /q=ord-2002/);
    await shot(page, '09-feed-search');
    // Filters survive a reload (they live in the URL).
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="feed-row"]').length === 1);
    assert.equal(await page.getByTestId('filter-q').inputValue(), 'ord-2002');
    await page.getByTestId('clear-filters').click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="feed-row"]').length >= n, all);
  });

  it('keyboard: j/k move, Enter opens, Escape goes back', async () => {
    await goHash(page, '#/feed');
    await rows(page).first().waitFor();
    await page.evaluate(() => (document.activeElement)?.blur());
    await page.keyboard.press('g');
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    const second = await rows(page).nth(1).getAttribute('data-id');
    assert.equal(await page.locator('[data-testid="feed-row"].selected').getAttribute('data-id'), second);
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => location.hash === `#/delivery/${id}`, second);
    await page.getByTestId('delivery-view').waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('feed-view').waitFor();
    assert.equal(await page.locator('[data-testid="feed-row"].selected').getAttribute('data-id'), second);
  });

  it('a burst of deliveries: virtualised list, older pages on scroll', async () => {
    await goHash(page, '#/feed');
    await rows(page).first().waitFor();
    await page.getByTestId('feed-list').evaluate((el) => (el.scrollTop = 0));
    const N = Number(process.env.E2E_BURST ?? 400);
    const bodies = Array.from({ length: N }, (_, i) => makeBody({ trackingNumber: `BURST${String(i).padStart(5, '0')}`, slug: 'usps' }));
    let next = 0;
    const worker = async () => {
      while (next < bodies.length) {
        const b = bodies[next++];
        const r = await postDelivery(serve.receiverUrl, b, { secret: SECRET });
        assert.equal(r.status, 200);
      }
    };
    // Watch the page's frames during the burst: a long gap would be a frozen UI.
    await page.evaluate(() => {
      const w = window;
      w.__maxGap = 0;
      w.__frames = true;
      w.__longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
      }).observe({ type: 'longtask', buffered: false });
      let last = performance.now();
      const tick = (t) => {
        w.__maxGap = Math.max(w.__maxGap, t - last);
        last = t;
        if (w.__frames) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await Promise.all(Array.from({ length: 8 }, worker));
    const top = (await serve.api('/api/deliveries?limit=1')).items[0];
    await page.waitForFunction((id) => document.querySelector('[data-testid="feed-row"]')?.getAttribute('data-id') === String(id), top.id);
    const maxGap = await page.evaluate(() => ((window).__frames = false, (window).__maxGap));
    const longest = await page.evaluate(() => (window).__longest);
    console.log(`burst: ${N} deliveries, longest frame gap ${Math.round(maxGap)} ms, longest main-thread task ${Math.round(longest)} ms`);
    assert.ok(maxGap < 500, `longest frame gap during the burst: ${Math.round(maxGap)} ms`);
    const rendered = await rows(page).count();
    assert.ok(rendered < 120, `only visible rows are in the DOM (${rendered})`);
    await shot(page, '10-feed-burst');
    // A fresh load pages back through the whole history with the cursor.
    await page.reload();
    await rows(page).first().waitFor();
    const list = page.getByTestId('feed-list');
    for (let i = 0; i < 30; i++) {
      await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
      await page.waitForTimeout(150);
      if (await page.getByTestId('feed-footer').filter({ hasText: "that's all" }).count()) break;
    }
    assert.match(await page.getByTestId('feed-footer').innerText(), /that's all/);
    const total = (await serve.api('/api/status')).deliveries_total;
    assert.match(await page.getByTestId('feed-footer').innerText(), new RegExp(`${total.toLocaleString('en-US')} deliveries`));
    // Reading further down: a live row arrives above without moving what is on screen.
    await list.evaluate((el) => (el.scrollTop = 1800));
    await page.waitForTimeout(100);
    const before = await list.evaluate((el) => el.scrollTop);
    await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: 'ABOVE0001' }), { secret: SECRET });
    await page.getByTestId('new-above').waitFor();
    assert.match(await page.getByTestId('new-above').innerText(), /1 new delivery/);
    assert.equal(await list.evaluate((el) => el.scrollTop), before + 36);
    await shot(page, '10b-feed-new-above');
    await page.getByTestId('new-above').click();
    await rows(page).filter({ hasText: 'ABOVE0001' }).waitFor();
    assert.equal(await list.evaluate((el) => el.scrollTop), 0);
  });

  it('5,000 live events at once: one render per frame, nothing lost', async () => {
    // The stream of this page is replaced by one response carrying 5,000 events: a burst no
    // network or server pace smooths out.
    const N = 5000;
    const base = 1_000_000;
    let body = ': burst\n\n';
    for (let i = 0; i < N; i++) {
      const d = { id: base + i, received_at: new Date().toISOString(), event_id: `burst-${i}`, event: 'tracking_update', verdict: i % 5 ? 'valid' : 'invalid', status: i % 5 ? 200 : 401, duplicate: false, tracking_number: `SYN${i}`, slug: 'usps', tag: 'InTransit', order_id: null, shipment_id: null, size: 1000 };
      body += `event: delivery\ndata: ${JSON.stringify({ type: 'delivery', delivery: d })}\n\n`;
    }
    const p2 = await browser.context.newPage();
    p2.on('pageerror', (e) => pageErrors.push(e.message));
    let served = false;
    await p2.route('**/api/stream', async (route) => {
      if (served) return route.abort();
      served = true;
      await new Promise((r) => setTimeout(r, 1000));
      await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body });
    });
    await p2.goto(serve.origin + '/#/feed?verdict=failed');
    await p2.getByTestId('feed-view').waitFor();
    const t0 = Date.now();
    // Only the failed ones match the filter; the newest failed is base + 4995.
    await p2.waitForFunction((id) => document.querySelector('[data-testid="feed-row"]')?.getAttribute('data-id') === String(id), base + N - 5, { timeout: 30000 });
    const dt = Date.now() - t0;
    const list = p2.getByTestId('feed-list');
    const height = await list.evaluate((el) => el.scrollHeight);
    assert.ok(height >= (N / 5) * 36, `all ${N / 5} failed rows are in the list (scrollHeight ${height})`);
    assert.ok((await p2.getByTestId('feed-row').count()) < 120, 'virtualised');
    console.log(`synthetic burst: ${N} events shown in ${dt} ms (includes a 1 s delay before the stream)`);
    await p2.close();
  });

  it('settings: secrets masked, public URL saved and shown in the status bar', async () => {
    await goHash(page, '#/settings');
    await page.getByTestId('settings-view').waitFor();
    const hint = await page.getByTestId('secret-hint').innerText();
    assert.ok(!hint.includes(SECRET), 'the secret is never shown');
    assert.match(hint, /••••/);
    await page.getByTestId('settings-public_url').fill('https://shipwatch-e2e.example.com');
    await page.getByTestId('settings-save').click();
    await page.getByTestId('sb-public-url').filter({ hasText: 'shipwatch-e2e.example.com' }).waitFor();
    assert.equal((await serve.api('/api/settings')).public_url, 'https://shipwatch-e2e.example.com');
    await tallShot(page, '11-settings', 1300);
  });

  it('dark theme and 800×600', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 800, height: 600 });
    await goHash(page, '#/feed');
    await rows(page).first().waitFor();
    await shot(page, '12-feed-dark-800x600');
    const id = await serve.api('/api/deliveries?verdict=invalid&limit=1').then((p) => p.items[0].id);
    await goHash(page, `#/delivery/${id}`);
    await page.getByTestId('sig-stored').waitFor();
    await shot(page, '13-delivery-fail-dark-800x600');
    await goHash(page, '#/shipments');
    await page.getByTestId('shipment-row').first().waitFor();
    await shot(page, '14-shipments-dark-800x600');
    // Nothing overflows sideways at 800 px.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `horizontal overflow ${overflow}px`);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1100, height: 760 });
  });

  it('without the token cookie: a screen that says what to open', async () => {
    await browser.context.clearCookies();
    await page.reload();
    await page.getByTestId('unauthorized').waitFor();
    assert.match(await page.getByTestId('unauthorized').innerText(), /shipwatch serve/);
    await shot(page, '15-unauthorized');
    await page.goto(serve.inspectorUrl);
    await page.getByTestId('status-bar').waitFor();
  });
});

describe('first run without a secret', () => {
  let serve;
  let browser;
  let page;
  const pageErrors = [];
  const it = withShots(() => page);

  before(async () => {
    ensureBuilt();
    serve = await startServe();
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });

  it('setup leads to a passing test delivery', async () => {
    await page.goto(serve.inspectorUrl);
    // No secret and no public URL: the app opens the guide.
    await page.getByTestId('setup-view').waitFor();
    assert.match(page.url(), /#\/setup$/);
    assert.equal(await page.getByTestId('setup-local-url').innerText(), serve.receiverUrl);
    const port = new URL(serve.receiverUrl).port;
    assert.equal(await page.getByTestId('tunnel-command').first().innerText(), `cloudflared tunnel --url http://127.0.0.1:${port}`);
    await page.getByTestId('sb-no-secret').waitFor();
    await tallShot(page, '20-setup-first-run', 1400);

    await page.getByTestId('setup-public-url').fill('https://shipwatch-first-run.example.com');
    assert.equal(await page.getByTestId('setup-aftership-url').innerText(), 'https://shipwatch-first-run.example.com/webhooks/aftership');
    await page.getByTestId('save-public-url').click();
    await page.getByTestId('sb-public-url').filter({ hasText: 'shipwatch-first-run.example.com' }).waitFor();

    await page.getByTestId('setup-secret').fill('first-run-secret');
    await page.getByTestId('save-secret').click();
    await page.locator('[data-testid="step-secret"].done').waitFor();
    const settings = await serve.api('/api/settings');
    assert.equal(settings.secret_set, true);
    assert.ok(!JSON.stringify(settings).includes('first-run-secret'), 'settings never echo the secret');
    await page.getByTestId('sb-no-secret').waitFor({ state: 'detached' });

    await page.getByTestId('setup-send-test').click();
    const arrived = page.getByTestId('test-arrived');
    await arrived.waitFor({ timeout: 5000 });
    assert.equal(await arrived.getAttribute('data-verdict'), 'valid');
    await tallShot(page, '21-setup-done', 1400);

    await arrived.click();
    await page.getByTestId('sig-stored').waitFor();
    assert.equal(await page.getByTestId('sig-stored').getAttribute('data-verdict'), 'valid');
    await goHash(page, '#/feed');
    await rows(page).first().waitFor();
    assert.equal(await rows(page).first().getAttribute('data-verdict'), 'valid');
    assert.equal(await page.getByTestId('setup-banner').count(), 0, 'setup is done: no banner');
  });

  it('the status bar says when the live connection is down', async () => {
    await goHash(page, '#/feed');
    await page.locator('[data-testid="sb-connection"][data-state="connected"]').waitFor();
    // A crash (a clean stop waits for open streams to drain first).
    serve.child.kill('SIGKILL');
    await page.locator('[data-testid="sb-connection"][data-state="disconnected"]').waitFor({ timeout: 10000 });
    assert.match(await page.getByTestId('sb-connection').innerText(), /disconnected/);
    // The receiver is no longer claimed to be listening.
    await page.getByTestId('sb-unreachable').waitFor({ timeout: 5000 });
    assert.equal(await page.getByTestId('sb-receiver').count(), 0);
    await shot(page, '22-disconnected');
  });
});

describe('desktop transport: the Tauri backend over an IPC stand-in', () => {
  let serve;
  let browser;
  let page;
  const pageErrors = [];
  const it = withShots(() => page);

  before(async () => {
    ensureBuilt();
    serve = await startServe({ secret: SECRET });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(serve.inspectorUrl); // the cookie, for the stand-in's fetches
    await page.addInitScript({ content: readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'tauri-shim.js'), 'utf8') });
    await page.goto('about:blank');
    await page.goto(serve.origin + '/#/feed');
    assert.equal(await page.evaluate(() => '__TAURI_INTERNALS__' in window), true);
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });

  it('commands with the documented names and arguments; live events through `live`', async () => {
    await page.getByTestId('feed-view').waitFor();
    await page.getByTestId('sb-connection').and(page.locator('[data-state="connected"]')).waitFor();
    const r = await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: 'TAURI0001' }), { secret: SECRET });
    assert.equal(r.status, 200);
    await rows(page).filter({ hasText: 'TAURI0001' }).click();
    await page.locator('[data-testid="sig-stored"][data-verdict="valid"]').waitFor();
    await page.getByTestId('reverify-secret').fill('nope');
    await page.getByTestId('reverify-button').click();
    await page.getByTestId('reverify-result').waitFor();
    await page.getByTestId('shipment-link').click();
    await page.getByTestId('timeline').waitFor();
    await goHash(page, '#/settings');
    await page.getByTestId('settings-view').waitFor();
    await page.getByTestId('notification-log').waitFor();
    assert.match(await page.getByTestId('notification-log').innerText(), /quiet hours/);
    await tallShot(page, '30-desktop-settings', 1500);
    // A click on a desktop notification: the `open-shipment` event opens the shipment.
    const shipmentId = (await serve.api('/api/shipments')).items[0].id;
    await page.evaluate((id) => window.__tauriEmit['open-shipment'](id), shipmentId);
    await page.waitForFunction((id) => location.hash === `#/shipment/${id}`, shipmentId);

    // The home page through IPC (`desk`).
    await goHash(page, '#/');
    await page.getByTestId('home-view').waitFor();
    const calls = await page.evaluate(() => window.__ipcCalls);
    const http = calls.filter(([c]) => !c.startsWith('plugin:'));
    const shapes = new Map(http.map(([c, a]) => [c, Object.keys(a).sort().join(',')]));
    assert.equal(shapes.get('status'), '');
    assert.equal(shapes.get('list_deliveries'), 'query');
    assert.equal(shapes.get('get_delivery'), 'id');
    assert.equal(shapes.get('reverify_delivery'), 'id,request');
    assert.equal(shapes.get('get_shipment'), 'id');
    assert.equal(shapes.get('get_settings'), '');
    assert.equal(shapes.get('notification_log'), '');
    assert.equal(shapes.get('desk'), '');
    assert.ok(calls.some(([c, a]) => c === 'plugin:event|listen' && a.event === 'live'));
    // The browser transport was not used: no EventSource of the UI's own, no direct /api calls.
    const uiRequests = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.initiatorType + ' ' + new URL(e.name).pathname));
    assert.ok(uiRequests.every((r) => !r.startsWith('script ') || !r.includes('/api/')), uiRequests.join('\n'));
  });
});
