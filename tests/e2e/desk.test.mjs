// The merchant's desk in Chromium against a real `shipwatch serve`: the home page with shipments in
// every state (exception with its reason, failed attempt, 2 days late, no scan for 6 days, waiting at
// a pickup point, arriving today, in transit, delivered), the shipment page (reasons, last scan, due,
// estimate history, proof of delivery), archiving, test data, courier names, held notifications and
// the desk's settings. Deliveries are signed 2026-07 bodies whose times are relative to now.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARTIFACTS, ensureBuilt, launchBrowser, startServe } from './helpers.mjs';
import { localDate, postVersioned, trackingBody } from './desk-helpers.mjs';

const SECRET = 'desk-e2e-secret-7d41';

const PARCELS = {
  exception: {
    tn: 'DESKEXC0001',
    slug: 'dhl',
    title: 'Walnut side table',
    orderNumber: '#1001',
    due: localDate(1),
    subtag: 'Exception_005',
    scans: [
      { ago: { days: 3 }, tag: 'InTransit' },
      { ago: { days: 1, hours: 2 }, tag: 'Exception', subtag: 'Exception_005', message: 'Shipment delayed by a storm' },
    ],
  },
  failed: {
    tn: 'DESKFAIL0002',
    slug: 'fedex',
    title: 'Linen duvet cover',
    orderNumber: '#1002',
    due: localDate(1),
    scans: [
      { ago: { days: 2 }, tag: 'InTransit' },
      { ago: { hours: 5 }, tag: 'AttemptFail', message: 'Customer not available' },
    ],
  },
  late: {
    tn: 'DESKLATE0003',
    slug: 'usps',
    title: 'Ceramic mug set',
    orderNumber: '#1003',
    due: localDate(-2),
    scans: [
      { ago: { days: 4 }, tag: 'InfoReceived' },
      { ago: { days: 1, hours: 1 }, tag: 'InTransit', subtag: 'InTransit_007' },
    ],
  },
  stuck: {
    tn: 'DESKSTUCK004',
    slug: 'royal-mail',
    title: 'Wool scarf',
    orderNumber: '#1004',
    due: localDate(3),
    scans: [
      { ago: { days: 8 }, tag: 'InfoReceived' },
      { ago: { days: 6, hours: 1 }, tag: 'InTransit', location: 'Coventry, GB' },
    ],
  },
  pickup: {
    tn: 'DESKPICK0005',
    slug: 'canada-post',
    title: 'Desk lamp',
    orderNumber: '#1005',
    scans: [
      { ago: { days: 6 }, tag: 'InTransit' },
      { ago: { days: 4, hours: 1 }, tag: 'AvailableForPickup', location: 'Toronto, ON, CA' },
    ],
  },
  today: {
    tn: 'DESKTODAY006',
    slug: 'ups',
    title: 'Oak cutting board',
    orderNumber: '#1006',
    due: localDate(0),
    scans: [
      { ago: { days: 2 }, tag: 'InTransit' },
      { ago: { hours: 3 }, tag: 'OutForDelivery' },
    ],
  },
  transit: {
    tn: 'DESKTRANS007',
    slug: 'dhl',
    title: 'Linen apron',
    orderNumber: '#1007',
    due: localDate(2),
    scans: [{ ago: { days: 1 }, tag: 'InTransit', subtag: 'InTransit_007' }],
  },
  delivered: {
    tn: 'DESKDELIV008',
    slug: 'fedex',
    title: 'Brass candle holder',
    orderNumber: '#1008',
    due: localDate(-1),
    signedBy: 'J. NEIGHBOUR',
    proofOfDelivery: [
      { type: 'photo', url: 'https://pod.example.com/DESKDELIV008/photo.jpg', captured_at: '2026-12-03T14:58:30-05:00' },
      { type: 'signature', url: 'javascript:alert(document.cookie)' },
    ],
    scans: [
      { ago: { days: 3 }, tag: 'InTransit' },
      { ago: { days: 1, hours: 3 }, tag: 'Delivered', location: 'Brooklyn, NY, US' },
    ],
  },
};

const KIND_ORDER = ['exception', 'failed_attempt', 'late', 'stuck', 'waiting_for_pickup'];

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** A screenshot of the whole page (the viewport made as tall as the content), then back. */
async function fullShot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
  const vp = page.viewportSize();
  const h = await page.evaluate(() => {
    const m = document.querySelector('.main');
    return m ? m.scrollHeight + (window.innerHeight - m.clientHeight) : document.body.scrollHeight;
  });
  if (h > vp.height) {
    await page.setViewportSize({ width: vp.width, height: Math.min(h, 3000) });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.screenshot({ path: join(ARTIFACTS, `${name}-full.png`) });
    await page.setViewportSize(vp);
  }
}

async function goHash(page, hash) {
  await page.evaluate((h) => (location.hash = h), hash);
}

function withShots(getPage) {
  return (name, fn) =>
    test(name, async () => {
      try {
        await fn();
      } catch (e) {
        const p = getPage();
        const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
        if (p && !p.isClosed()) await p.screenshot({ path: join(ARTIFACTS, `FAIL-desk-${slug}.png`) }).catch(() => {});
        throw e;
      }
    });
}

describe("the merchant's desk", () => {
  let serve;
  let browser;
  let page;
  const pageErrors = [];
  const ids = {};
  const it = withShots(() => page);
  const rows = () => page.getByTestId('attention-row');
  const row = (tn) => page.locator('[data-testid="attention-row"], [data-testid="desk-row"]').filter({ hasText: tn });

  before(async () => {
    ensureBuilt();
    serve = await startServe({ secret: SECRET });
    // Set up (a public URL and a secret): the app opens on the home page.
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ public_url: 'https://desk-e2e.example.com' }) });
    for (const p of Object.values(PARCELS)) {
      const r = await postVersioned(serve.receiverUrl, trackingBody(p), SECRET);
      assert.equal(r.status, 200, r.text);
    }
    // The estimate of the parcel in transit moves two days later, with AfterShip's reason.
    const t = PARCELS.transit;
    const revise = trackingBody({ ...t, event: 'edd_revise', due: localDate(4), reviseReason: 'Weather delay' });
    assert.equal((await postVersioned(serve.receiverUrl, revise, SECRET)).status, 200);
    // Two test shipments, made by Shipwatch's own test tool.
    for (let i = 0; i < 2; i++) await serve.api('/api/test-delivery', { method: 'POST', body: '{}' });
    const all = (await serve.api('/api/shipments?limit=100')).items;
    for (const [k, p] of Object.entries(PARCELS)) ids[k] = all.find((s) => s.tracking_number === p.tn)?.id;

    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(serve.inspectorUrl);
    await page.getByTestId('home-view').waitFor();
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });

  it('opens on the home page: what needs attention, most urgent first, and why', async () => {
    assert.match(page.url(), /#\/$|\/$/, `opened on the home page, at ${page.url()}`);
    assert.equal(await page.getByTestId('nav-home').getAttribute('aria-current'), 'page');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="attention-row"]').length === 5);
    const kinds = await rows().evaluateAll((rs) => rs.map((r) => r.dataset.kind));
    assert.deepEqual(kinds, KIND_ORDER);
    const urgency = await rows().evaluateAll((rs) => rs.map((r) => r.dataset.urgency));
    assert.deepEqual(urgency, ['critical', 'critical', 'warning', 'warning', 'info']);
    // Never colour alone: each row carries a label and an icon.
    for (const r of await rows().all()) {
      assert.ok((await r.locator('.att-kind').innerText()).trim().length > 2);
      assert.equal(await r.locator('svg.icon').count(), 1);
    }
    const reason = async (tn) => (await row(tn).getByTestId('attention-reason').innerText()).trim();
    assert.match(await reason(PARCELS.exception.tn), /Delayed \(External factors\)/);
    assert.match(await reason(PARCELS.late.tn), /2 days late/);
    assert.match(await reason(PARCELS.stuck.tn), /6 days/);
    assert.match(await reason(PARCELS.pickup.tn), /4 days/);
    assert.ok((await reason(PARCELS.failed.tn)).length > 3);

    // Each row: the order title and number, the tracking number, the courier's name (never its
    // slug) and the age of the courier's last scan.
    const stuck = await row(PARCELS.stuck.tn).innerText();
    assert.match(stuck, /Wool scarf/);
    assert.match(stuck, /#1004/);
    assert.match(stuck, /DESKSTUCK004/);
    const api = await serve.api(`/api/shipments/${ids.stuck}`);
    assert.ok(api.courier && api.courier !== 'royal-mail', `a display name for royal-mail: ${api.courier}`);
    assert.equal(await row(PARCELS.stuck.tn).getByTestId('row-courier').innerText(), api.courier);
    assert.ok(!stuck.includes('royal-mail'), stuck);
    assert.match(await row(PARCELS.stuck.tn).getByTestId('row-scan').innerText(), /last scan 6 days ago/);
    assert.match(await row(PARCELS.late.tn).getByTestId('row-scan').innerText(), /last scan 1 day ago/);

    // Below: arriving today, in transit, delivered recently, with their totals.
    const group = (k) => page.getByTestId(`group-${k}`);
    assert.match(await group('arriving_today').innerText(), /DESKTODAY006/);
    assert.match(await group('in_transit').innerText(), /DESKTRANS007/);
    assert.match(await group('delivered_recently').innerText(), /DESKDELIV008/);
    for (const [k, n] of [['arriving_today', 1], ['in_transit', 1], ['delivered_recently', 1]])
      assert.equal(await group(k).getByTestId('group-total').innerText(), String(n), k);
    assert.equal(await group('in_transit').getByText('DESKSTUCK004').count(), 0, 'a stuck parcel is not also in transit');
    assert.equal(await group('delivered_recently').locator('[data-testid="archive"]:not(.btn-ghost)').count(), 1, 'delivered ones offer Archive');
    assert.equal(await group('delivered_recently').getByTestId('show-all').getAttribute('href'), '#/shipments?tag=Delivered');

    // Test shipments are hidden, and say so.
    assert.match(await page.getByTestId('test-note').innerText(), /2 test shipments hidden/);
    assert.equal(await page.getByText(/SWTEST/).count(), 0);

    // Header and status bar: the attention count.
    await page.getByTestId('sb-attention').filter({ hasText: '5 need attention' }).waitFor();
    assert.equal(await page.getByTestId('nav-attention-count').innerText(), '5');

    await fullShot(page, '40-home');
    await page.emulateMedia({ colorScheme: 'dark' });
    await fullShot(page, '41-home-dark');
    await page.setViewportSize({ width: 800, height: 600 });
    await shot(page, '43-home-dark-800x600');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `horizontal overflow ${overflow}px`);
    await page.emulateMedia({ colorScheme: 'light' });
    await shot(page, '42-home-800x600');
    await page.setViewportSize({ width: 1100, height: 760 });
  });

  it('a new exception appears live, in its place, without a reload', async () => {
    await page.evaluate(() => (window.__noReload = true));
    const live = {
      tn: 'DESKLIVE0009',
      slug: 'ups',
      title: 'Glass vase',
      orderNumber: '#1009',
      subtag: 'Exception_012',
      subtagMessage: 'Shipment damage',
      scans: [{ ago: { hours: 1 }, tag: 'Exception', subtag: 'Exception_012', message: 'Parcel damaged in transit' }],
    };
    assert.equal((await postVersioned(serve.receiverUrl, trackingBody(live), SECRET)).status, 200);
    await row(live.tn).waitFor();
    assert.equal(await page.evaluate(() => window.__noReload), true);
    const kinds = await rows().evaluateAll((rs) => rs.map((r) => r.dataset.kind));
    assert.deepEqual(kinds.slice(0, 2), ['exception', 'exception']);
    assert.match(await row(live.tn).getByTestId('attention-reason').innerText(), /Shipment damage/);
    await page.getByTestId('sb-attention').filter({ hasText: '6 need attention' }).waitFor();
  });

  it('the shipment page: the reason at the top, the last courier scan, how late, the order number', async () => {
    await row(PARCELS.late.tn).locator('a').first().click();
    await page.getByTestId('shipment-view').waitFor();
    assert.equal(await page.getByTestId('shipment-view').getAttribute('data-id'), String(ids.late));
    assert.match(await page.getByTestId('shipment-attention').first().innerText(), /2 days late/);
    assert.match(await page.getByTestId('shipment-due').innerText(), /2 days late/);
    assert.match(await page.getByTestId('shipment-last-scan').innerText(), /^Last courier scan 1 day ago \(\w{3} \d{1,2}, \d{2}:\d{2}\)$/);
    assert.match(await page.getByTestId('shipment-received').innerText(), /Last delivery received/);
    assert.equal(await page.getByTestId('shipment-order-number').innerText(), '#1003');
    const api = await serve.api(`/api/shipments/${ids.late}`);
    assert.equal(await page.getByTestId('shipment-courier').innerText(), api.courier);
    await fullShot(page, '44a-shipment-late');
  });

  it('the shipment page: estimate history, later or earlier, with the reason', async () => {
    await goHash(page, `#/shipment/${ids.transit}`);
    await page.getByTestId('estimate-history').waitFor();
    const later = page.locator('[data-testid="estimate-change"][data-direction="later"]');
    assert.ok((await later.count()) >= 1, 'a move later is listed');
    const text = await later.last().innerText();
    assert.match(text, /Weather delay/);
    assert.match(text, /2 days later/);
    await fullShot(page, '44-shipment-estimate-history');
  });

  it('the shipment page: proof of delivery, only http(s) links clickable', async () => {
    await goHash(page, `#/shipment/${ids.delivered}`);
    await page.getByTestId('proof-of-delivery').waitFor();
    assert.equal(await page.getByTestId('pod-signed-by').innerText(), 'J. NEIGHBOUR');
    const links = await page.getByTestId('pod-link').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.deepEqual(links, ['https://pod.example.com/DESKDELIV008/photo.jpg']);
    assert.match(await page.getByTestId('pod-text').innerText(), /javascript:alert/);
    assert.equal(await page.locator('a[href^="javascript:"]').count(), 0);
    await fullShot(page, '45-shipment-delivered');
  });

  it('feed and delivery page: courier names, the order title, test marks, the webhook version', async () => {
    await goHash(page, '#/feed');
    const r = page.getByTestId('feed-row').filter({ hasText: PARCELS.stuck.tn }).first();
    await r.waitFor();
    const courier = (await serve.api(`/api/shipments/${ids.stuck}`)).courier;
    assert.equal(await r.getByTestId('row-slug').innerText(), courier);
    assert.equal(await r.getByTestId('row-slug').getAttribute('data-slug'), 'royal-mail');
    assert.match(await r.getByTestId('row-title').innerText(), /Wool scarf/);
    assert.ok((await page.getByTestId('row-test').count()) >= 2, 'test deliveries are marked');
    await shot(page, '45a-feed-names-titles');
    await r.click();
    await page.getByTestId('delivery-view').waitFor();
    assert.equal(await page.getByTestId('webhook-version').innerText(), '2026-07');
    assert.equal(await page.getByTestId('delivery-courier').innerText(), courier);
    const testDelivery = (await serve.api('/api/deliveries?limit=100')).items.find((d) => d.test);
    assert.ok(testDelivery, 'a delivery marked test');
    await goHash(page, `#/delivery/${testDelivery.id}`);
    await page.getByTestId('test-mark').waitFor();
    assert.equal(await page.getByTestId('webhook-version').innerText(), testDelivery.webhook_version ?? 'legacy v4');
  });

  it('archive moves a row out of the home page; it stays in Shipments and comes back', async () => {
    await goHash(page, '#/');
    const delivered = page.getByTestId('group-delivered_recently');
    await delivered.getByText(PARCELS.delivered.tn).waitFor();
    await delivered.getByTestId('desk-row').filter({ hasText: PARCELS.delivered.tn }).getByTestId('archive').click();
    await delivered.getByText(PARCELS.delivered.tn).waitFor({ state: 'detached' });
    assert.equal((await serve.api(`/api/shipments/${ids.delivered}`)).archived, true);
    // By hand on any: a stuck one too.
    await row(PARCELS.stuck.tn).getByTestId('archive').click();
    await row(PARCELS.stuck.tn).waitFor({ state: 'detached' });
    await page.reload();
    await page.getByTestId('attention-list').waitFor();
    assert.equal(await row(PARCELS.delivered.tn).count(), 0);
    assert.equal(await row(PARCELS.stuck.tn).count(), 0);
    assert.equal(await page.getByTestId('group-delivered_recently').getByTestId('group-total').innerText(), '0');
    // Still listed and searchable.
    await goHash(page, `#/shipments?q=${PARCELS.delivered.tn}`);
    await page.getByTestId('shipment-row').filter({ hasText: PARCELS.delivered.tn }).waitFor();
    // Unarchive from its page: back on the home page.
    await goHash(page, `#/shipment/${ids.stuck}`);
    await page.getByTestId('archived-mark').waitFor();
    await page.getByTestId('shipment-archive').click();
    await page.locator('[data-testid="shipment-archive"][data-archived="false"]').waitFor();
    await goHash(page, '#/');
    await row(PARCELS.stuck.tn).waitFor();
    // Archived elsewhere (the API, another window): the desk event refreshes this page.
    await serve.api(`/api/shipments/${ids.today}/archive`, { method: 'POST', body: JSON.stringify({ archived: true }) });
    await row(PARCELS.today.tn).waitFor({ state: 'detached' });
    await serve.api(`/api/shipments/${ids.today}/archive`, { method: 'POST', body: JSON.stringify({ archived: false }) });
    await row(PARCELS.today.tn).waitFor();
  });

  it('test data: hidden with a note, removed in one confirmed action', async () => {
    await goHash(page, '#/');
    const note = page.getByTestId('test-note');
    await note.waitFor();
    await page.getByTestId('remove-test-data').click();
    assert.match(await note.innerText(), /Remove 2 test shipments/);
    await page.getByTestId('remove-test-confirm').click();
    await note.waitFor({ state: 'detached' });
    assert.equal((await serve.api('/api/desk')).test_shipments, 0);
    const left = (await serve.api('/api/shipments?limit=100')).items.filter((s) => s.test);
    assert.deepEqual(left, []);
    assert.equal((await serve.api('/api/deliveries?limit=500')).items.filter((d) => d.test).length, 0);
    // Real shipments are untouched.
    assert.ok((await rows().count()) >= 5);
  });

  it('notifications held show in the status bar; the desk settings are validated and saved', async () => {
    await goHash(page, '#/settings');
    const desk = page.getByTestId('settings-desk');
    await desk.waitFor();
    assert.equal(await page.getByTestId('settings-stuck_after_days').inputValue(), '5');
    assert.equal(await page.getByTestId('settings-pickup_after_days').inputValue(), '3');
    assert.equal(await page.getByTestId('settings-archive_after_days').inputValue(), '3');
    await page.getByTestId('settings-stuck_after_days').fill('0');
    await page.getByTestId('settings-days-error').waitFor();
    assert.equal(await page.getByTestId('settings-save').isDisabled(), true);
    await page.getByTestId('settings-stuck_after_days').fill('7');
    await page.locator('[data-testid="settings-alert"][value="estimate_later"]').uncheck();
    await page.getByTestId('settings-digest-enabled').check();
    await page.getByTestId('settings-digest_at').fill('08:30');
    await page.getByText('Pause all notifications').click();
    await page.getByTestId('settings-save').click();
    await page.getByTestId('sb-held').waitFor();
    assert.match(await page.getByTestId('sb-held').innerText(), /Notifications (paused|held)/);
    assert.equal(await page.getByTestId('sb-held').getAttribute('href'), '#/settings');
    const s = await serve.api('/api/settings');
    assert.equal(s.stuck_after_days, 7);
    assert.deepEqual([...s.alerts].sort(), ['late', 'stuck']);
    assert.equal(s.digest_at, '08:30');
    assert.equal(s.notifications_paused, true);
    await desk.scrollIntoViewIfNeeded();
    await shot(page, '46-settings-desk');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, '47-settings-desk-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    // With 7 days, the parcel without a scan for 6 days no longer needs attention.
    await goHash(page, '#/');
    await page.getByTestId('attention-list').waitFor();
    assert.equal(await page.locator('[data-testid="attention-row"][data-kind="stuck"]').count(), 0);
  });
});

describe("the merchant's desk: empty states", () => {
  let serve;
  let browser;
  let page;
  const pageErrors = [];
  const it = withShots(() => page);

  before(async () => {
    ensureBuilt();
    serve = await startServe({ secret: SECRET });
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ public_url: 'https://desk-empty-e2e.example.com' }) });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(serve.inspectorUrl);
    await page.getByTestId('home-view').waitFor();
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });

  it('no shipments yet: says what the page is for, links to Setup and the test event', async () => {
    const empty = page.getByTestId('desk-empty');
    await empty.waitFor();
    assert.match(await empty.innerText(), /No shipments yet/);
    assert.equal(await empty.locator('a[href="#/setup"]').count() >= 1, true);
    await shot(page, '48-home-empty');
    // A test delivery makes a test shipment: kept apart, shown as a note, the page stays empty.
    await empty.getByTestId('send-test').click();
    await page.getByTestId('test-note').filter({ hasText: '1 test shipment hidden' }).waitFor();
    assert.equal(await page.getByTestId('desk-empty').count(), 1);
    assert.equal(await page.getByTestId('attention-row').count(), 0);
  });

  it('nothing needs you: an explained all-clear above the groups', async () => {
    const p = { tn: 'DESKCALM0001', slug: 'ups', title: 'Tea towels', orderNumber: '#2001', due: localDate(3), scans: [{ ago: { hours: 6 }, tag: 'InTransit' }] };
    assert.equal((await postVersioned(serve.receiverUrl, trackingBody(p), SECRET)).status, 200);
    await page.getByTestId('attention-empty').waitFor();
    assert.match(await page.getByTestId('attention-empty').innerText(), /Nothing needs you/);
    assert.match(await page.getByTestId('group-in_transit').innerText(), /DESKCALM0001/);
    assert.match(await page.getByTestId('group-in_transit').getByTestId('row-when').innerText(), /due /);
    await shot(page, '49-home-all-clear');
  });
});
