// Developer tools in the browser against a real `shipwatch serve`: replay (into Shipwatch and to a
// capture server on loopback), test events, the self-test through a stand-in tunnel (a reverse proxy
// on loopback, one that alters the body, a closed port), a supervised fake tunnel command, forward
// mode, re-verify failed deliveries and the loud warnings.
// Run: node --test tests/e2e/   (builds target/debug/shipwatch and ui/dist when missing)
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARTIFACTS, ensureBuilt, launchBrowser, makeBody, postDelivery, sign, startServe } from './helpers.mjs';

const SECRET = 'e2e-devtools-secret-7a9b';
// The stand-in tunnels here are http on loopback: `shipwatch serve` accepts them as the public URL only so.
process.env.SHIPWATCH_ALLOW_LOOPBACK_PUBLIC_URL = '1';

/** Endpoints the lead is still implementing: a test whose endpoint answers 404 is skipped, saying so. */
async function missing(serve, method, path) {
  const res = await fetch(serve.origin + path, { method, headers: { Authorization: `Bearer ${serve.token}` } });
  const text = await res.text();
  return res.status === 404 && /no such API endpoint/.test(text);
}

async function shot(page, name, height) {
  const vp = page.viewportSize();
  if (height) await page.setViewportSize({ width: vp.width, height });
  await page.waitForTimeout(120);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  if (height) await page.setViewportSize(vp);
}

async function goHash(page, hash) {
  await page.evaluate((h) => (location.hash = h), hash);
}

/** A loopback HTTP server that records every request (method, path, headers, raw body). */
async function captureServer({ status = 200 } = {}) {
  const requests = [];
  const waiters = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method, url: req.url, headers: req.headers, raw: Buffer.concat(chunks) };
      requests.push(r);
      for (const w of waiters.splice(0)) w(r);
      res.writeHead(status, { 'Content-Type': 'application/json', 'X-Capture': 'yes' });
      res.end(JSON.stringify({ captured: requests.length }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    requests,
    next(timeout = 5000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('nothing arrived at the capture server')), timeout);
        waiters.push((r) => {
          clearTimeout(t);
          resolve(r);
        });
      });
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

/** A reverse proxy on loopback standing in for a tunnel: forwards to `target`, optionally re-serialising JSON. */
async function reverseProxy(target, { reserialize = false } = {}) {
  const t = new URL(target);
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (reserialize) body = Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8')), null, 2));
      const headers = { ...req.headers, host: t.host, 'content-length': String(body.length), 'x-forwarded-for': '203.0.113.9' };
      const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers }, (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => {
        res.writeHead(502);
        res.end('bad gateway');
      });
      up.end(body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** A port with nothing listening on it. */
async function closedPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

function withShots(getPage) {
  const wrap = (name, opts, fn) =>
    test(name, opts, async (t) => {
      try {
        await fn(t);
      } catch (e) {
        const p = getPage();
        const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
        if (p && !p.isClosed() && !opts.todo) await p.screenshot({ path: join(ARTIFACTS, `FAIL-dev-${slug}.png`) }).catch(() => {});
        throw e;
      }
    });
  return wrap;
}

/** Skips the test (with the reason) while its endpoint does not exist yet. */
async function needs(t, serve, method, path) {
  if (await missing(serve, method, path)) {
    t.skip(`${method} ${path} is not implemented by this shipwatch build yet (404 "no such API endpoint")`);
    return false;
  }
  return true;
}

describe('developer tools (secret from the environment)', () => {
  let serve;
  let browser;
  let page;
  const pageErrors = [];
  const it = withShots(() => page);
  let original; // { id, raw }

  before(async () => {
    ensureBuilt();
    serve = await startServe({ secret: SECRET });
    browser = await launchBrowser();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: serve.origin });
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(serve.inspectorUrl);
    await page.getByTestId('status-bar').waitFor();
    const r = await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: 'DEVREPLAY01', orderId: 'ORD-7' }), { secret: SECRET });
    assert.equal(r.status, 200, r.text);
    const list = await serve.api('/api/deliveries');
    original = { id: list.items[0].id, raw: r.raw };
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });

  it('replay into Shipwatch stores a new delivery, flagged duplicate', {}, async (t) => {
    if (!(await needs(t, serve, 'POST', `/api/deliveries/${original.id}/replay`))) return;
    await goHash(page, `#/delivery/${original.id}`);
    await page.getByTestId('replay-panel').waitFor();
    await page.getByTestId('replay-send').click();
    const result = page.getByTestId('replay-result');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-status'), '200');
    const link = page.getByTestId('replay-delivery-link');
    await link.waitFor();
    await page.getByTestId('replay-panel').scrollIntoViewIfNeeded();
    await shot(page, 'dev-replay-shipwatch');
    await link.click();
    await page.waitForFunction((id) => document.querySelector('[data-testid="delivery-view"]')?.getAttribute('data-id') !== String(id), original.id);
    const newId = Number(await page.getByTestId('delivery-view').getAttribute('data-id'));
    assert.ok(newId > original.id, `a new delivery (#${newId})`);
    await page.getByTestId('duplicate').first().waitFor();
    assert.equal(await page.getByTestId('sig-stored').getAttribute('data-verdict'), 'valid');
  });

  it('replay to a URL arrives byte-exact with the original signature; the URL is remembered', {}, async (t) => {
    if (!(await needs(t, serve, 'POST', `/api/deliveries/${original.id}/replay`))) return;
    const cap = await captureServer();
    try {
      await goHash(page, `#/delivery/${original.id}`);
      await page.waitForFunction((id) => document.querySelector('[data-testid="delivery-view"]')?.getAttribute('data-id') === String(id), original.id);
      await page.getByTestId('replay-target-url').click();
      await page.getByTestId('replay-url').fill(cap.url + '/hooks/aftership');
      const arrived = cap.next();
      await page.getByTestId('replay-send').click();
      const got = await arrived;
      await page.locator('[data-testid="replay-result"][data-status="200"]').waitFor();
      assert.equal(got.method, 'POST');
      assert.equal(got.url, '/hooks/aftership');
      assert.equal(got.raw.toString('utf8'), original.raw, 'the body is byte-exact');
      assert.equal(got.headers['aftership-hmac-sha256'], sign(SECRET, original.raw), 'the original signature');
      assert.match(got.headers['user-agent'] ?? '', /AfterShipTrackingWebhook/, 'original headers kept');
      assert.match(await page.getByTestId('replay-response-body').innerText(), /"captured":1/);
      await page.getByTestId('replay-panel').scrollIntoViewIfNeeded();
      await shot(page, 'dev-replay-url');
      // Remembered for next time.
      await page.reload();
      await page.getByTestId('replay-target-url').click();
      assert.equal(await page.getByTestId('replay-url').inputValue(), cap.url + '/hooks/aftership');
    } finally {
      await cap.close();
    }
  });

  it('edit-then-replay re-signs: the new body with a signature that verifies', {}, async (t) => {
    if (!(await needs(t, serve, 'POST', `/api/deliveries/${original.id}/replay`))) return;
    const cap = await captureServer();
    try {
      await goHash(page, `#/delivery/${original.id}`);
      await page.getByTestId('replay-panel').waitFor();
      await page.getByTestId('replay-target-url').click();
      await page.getByTestId('replay-url').fill(cap.url + '/edited');
      assert.equal(await page.getByTestId('replay-panel').getAttribute('data-sign-with'), 'original');
      // The editor shows the body re-indented; edit one value (Ctrl+F, Escape, type over the match).
      await page.locator('[data-testid="replay-editor"][data-state="ready"]').waitFor();
      await page.getByTestId('replay-editor').locator('.cm-content').click();
      await page.keyboard.press('Control+Home');
      await page.keyboard.press('Control+f');
      await page.getByTestId('replay-editor').locator('.cm-search input[name="search"]').pressSequentially('"InTransit"');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Escape');
      await page.keyboard.type('"Delivered"');
      assert.equal(await page.getByTestId('replay-body-state').getAttribute('data-edited'), 'true');
      assert.equal(await page.getByTestId('replay-panel').getAttribute('data-sign-with'), 'current', 're-signed for an edited body');
      assert.match(await page.getByTestId('replay-sign-note').innerText(), /re-computed with the current secret/);
      const arrived = cap.next();
      await page.getByTestId('replay-send').click();
      const got = await arrived;
      const edited = got.raw.toString('utf8');
      assert.notEqual(edited, original.raw);
      assert.match(edited, /\n {4}"tag": "Delivered",\n/, 'the re-indented text with the edit');
      assert.equal(got.headers['aftership-hmac-sha256'], sign(SECRET, edited), 'a signature that verifies for the new body');
      await page.locator('[data-testid="replay-result"][data-status="200"]').waitFor();
      await page.getByTestId('replay-panel').scrollIntoViewIfNeeded();
      await shot(page, 'dev-replay-edit', 1100);
    } finally {
      await cap.close();
    }
  });

  it('a test event with a chosen subtag and the versioned shape shows in the feed with that tag', {}, async () => {
    await goHash(page, '#/feed');
    await page.getByTestId('feed-view').waitFor();
    await page.getByTestId('feed-send-test-event').click();
    const dlg = page.getByTestId('test-event-dialog');
    await dlg.waitFor();
    await dlg.getByTestId('test-tag').selectOption('Exception');
    assert.equal(await dlg.getByTestId('test-subtag').inputValue(), 'Exception_001', '_001 is the default');
    await dlg.getByTestId('test-subtag').selectOption('Exception_011');
    await dlg.getByTestId('test-shape-versioned').click();
    await dlg.getByTestId('test-send').click();
    const arrived = dlg.getByTestId('test-event-arrived');
    await arrived.waitFor({ timeout: 5000 });
    assert.equal(await arrived.getAttribute('data-tag'), 'Exception');
    assert.equal(await arrived.getAttribute('data-verdict'), 'valid');
    await shot(page, 'dev-test-event');
    const href = await arrived.getAttribute('href');
    const id = Number(href.split('/').pop());
    const row = page.locator(`[data-testid="feed-row"][data-id="${id}"]`);
    await row.waitFor();
    assert.equal(await row.getByTestId('tag-badge').getAttribute('data-tag'), 'Exception');
    const d = await serve.api(`/api/deliveries/${id}`);
    const body = Buffer.from(d.body_base64, 'base64').toString('utf8');
    assert.match(body, /Exception_011/);
    assert.ok(
      d.headers.some(([n]) => n.toLowerCase() === 'as-webhook-version'),
      `versioned shape carries as-webhook-version: ${d.headers.map(([n]) => n).join(', ')}`,
    );
    await dlg.getByTestId('test-event-close').click();
    await dlg.waitFor({ state: 'detached' });
  });

  it('self-test through a reverse proxy on loopback: ok, with the round trip', {}, async (t) => {
    if (!(await needs(t, serve, 'POST', '/api/self-test'))) return;
    const proxy = await reverseProxy(new URL(serve.receiverUrl).origin);
    try {
      await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ public_url: proxy.url }) });
      await goHash(page, '#/settings');
      await page.getByTestId('settings-view').waitFor();
      await page.getByTestId('self-test-run').click();
      const r = page.getByTestId('self-test-result');
      await r.waitFor({ timeout: 15000 });
      assert.equal(await r.getAttribute('data-hop'), 'ok', await r.innerText());
      assert.match(await page.getByTestId('self-test-headline').innerText(), /byte-exact.*round trip \d+ ms/);
      assert.equal(await page.locator('[data-testid="hop-node"][data-state="ok"]').count(), 4);
      await page.getByTestId('self-test').scrollIntoViewIfNeeded();
      await shot(page, 'dev-self-test-ok');
    } finally {
      await proxy.close();
    }
  });

  it('self-test through a proxy that re-serialises the JSON: body_altered', {}, async (t) => {
    if (!(await needs(t, serve, 'POST', '/api/self-test'))) return;
    const proxy = await reverseProxy(new URL(serve.receiverUrl).origin, { reserialize: true });
    try {
      await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ public_url: proxy.url }) });
      await goHash(page, '#/feed');
      await page.getByTestId('feed-view').waitFor();
      await goHash(page, '#/settings');
      await page.getByTestId('self-test-run').click();
      const r = page.getByTestId('self-test-result');
      await r.waitFor({ timeout: 15000 });
      assert.equal(await r.getAttribute('data-hop'), 'body_altered', await r.innerText());
      assert.match(await page.getByTestId('self-test-headline').innerText(), /proxy changed the body/);
      assert.equal(await page.locator('[data-testid="hop-node"][data-node="back"]').getAttribute('data-state'), 'fail');
      await page.getByTestId('self-test').scrollIntoViewIfNeeded();
      await shot(page, 'dev-self-test-body-altered');
    } finally {
      await proxy.close();
    }
  });

  it('self-test to a closed port: connect', {}, async (t) => {
    if (!(await needs(t, serve, 'POST', '/api/self-test'))) return;
    const port = await closedPort();
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ public_url: `http://127.0.0.1:${port}` }) });
    await goHash(page, '#/feed');
    await page.getByTestId('feed-view').waitFor();
    await goHash(page, '#/settings');
    await page.getByTestId('self-test-run').click();
    const r = page.getByTestId('self-test-result');
    await r.waitFor({ timeout: 15000 });
    assert.equal(await r.getAttribute('data-hop'), 'connect', await r.innerText());
    assert.equal(await page.locator('[data-testid="hop-node"][data-node="public"]').getAttribute('data-state'), 'fail');
    assert.ok((await page.getByTestId('self-test-message').innerText()).length > 0);
    await page.getByTestId('self-test').scrollIntoViewIfNeeded();
    await shot(page, 'dev-self-test-connect');
  });

  it('forward mode: the delivery reaches the capture server and its row shows ✓', {}, async (t) => {
    if (!(await needs(t, serve, 'GET', `/api/deliveries/${original.id}/forwards`))) return;
    const cap = await captureServer({ status: 202 });
    try {
      await goHash(page, '#/settings');
      await page.getByTestId('settings-view').waitFor();
      await page.getByTestId('settings-forward_url').fill(cap.url + '/fwd');
      await page.getByTestId('settings-save').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="settings-save"]')?.textContent === 'No changes');
      assert.equal((await serve.api('/api/settings')).forward_url, cap.url + '/fwd');
      await page.getByTestId('settings-forward').scrollIntoViewIfNeeded();
      await shot(page, 'dev-settings-forward');

      await goHash(page, '#/feed');
      await page.getByTestId('feed-view').waitFor();
      const arrived = cap.next(10000);
      const r = await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: 'DEVFORWARD1' }), { secret: SECRET });
      assert.equal(r.status, 200);
      const got = await arrived;
      assert.equal(got.raw.toString('utf8'), r.raw, 'forwarded byte-exact');
      assert.equal(got.headers['aftership-hmac-sha256'], sign(SECRET, r.raw));
      const row = page.getByTestId('feed-row').filter({ hasText: 'DEVFORWARD1' });
      const mark = row.getByTestId('forward-mark');
      await page.locator('[data-testid="feed-row"]:has-text("DEVFORWARD1") [data-testid="forward-mark"][data-state="delivered"]').waitFor({ timeout: 10000 });
      assert.match(await mark.getAttribute('title'), /202/);
      await shot(page, 'dev-feed-forward');
      await row.click();
      await page.getByTestId('forwards-panel').waitFor();
      await page.locator('[data-testid="forward-attempt"][data-state="delivered"]').first().waitFor();
      await page.getByTestId('forwards-panel').scrollIntoViewIfNeeded();
      await shot(page, 'dev-delivery-forwards');
    } finally {
      await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ forward_url: '' }) }).catch(() => {});
      await cap.close();
    }
  });

  it('settings show the env secret flags separately, retention, re-verify failed', {}, async () => {
    await goHash(page, '#/settings');
    await page.getByTestId('settings-view').waitFor();
    await page.getByTestId('secret-from-env').waitFor();
    assert.equal(await page.getByTestId('previous_secret-from-env').count(), 0, 'the previous secret is not from the environment');
    await page.getByTestId('settings-retention_days').fill('30');
    await page.getByTestId('settings-retention_max_mb').fill('500');
    await page.getByTestId('settings-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="settings-save"]')?.textContent === 'No changes');
    const s = await serve.api('/api/settings');
    assert.equal(s.retention_days, 30);
    assert.equal(s.retention_max_mb, 500);
    await shot(page, 'dev-settings', 2400);
  });

  // docs/api.md: "`null` keeps deliveries forever".
  it(
    'an emptied retention field clears the limit (null = keep everything)',
    {},
    async () => {
      await goHash(page, '#/settings');
      await page.getByTestId('settings-view').waitFor();
      // A value no earlier test saved, so there is a change to save whatever ran before.
      await page.getByTestId('settings-retention_days').fill('45');
      await page.getByTestId('settings-save').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="settings-save"]')?.textContent === 'No changes');
      assert.equal((await serve.api('/api/settings')).retention_days, 45);
      await page.getByTestId('settings-retention_days').fill('');
      await page.getByTestId('settings-save').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="settings-save"]')?.textContent === 'No changes');
      assert.equal((await serve.api('/api/settings')).retention_days, null, 'empty = keep everything');
    },
  );

  it('a tunnel command that prints a URL: the status card shows it running with that URL', {}, async (t) => {
    if (!(await needs(t, serve, 'GET', '/api/tunnel'))) return;
    const dir = mkdtempSync(join(tmpdir(), 'shipwatch-fake-tunnel-'));
    const n = Math.floor(Math.random() * 1e6);
    const script = join(dir, 'fake-tunnel.sh');
    writeFileSync(script, `#!/bin/sh\necho "starting fake tunnel for port $1"\necho "INF |  https://fake-${n}.trycloudflare.com  |"\nexec sleep 600\n`);
    chmodSync(script, 0o755);
    try {
      await goHash(page, '#/setup');
      await page.getByTestId('setup-view').waitFor();
      await page.getByTestId('tunnel-mode-command').click();
      await page.getByTestId('setup-tunnel-command').fill(`${script} {port}`);
      await page.getByTestId('save-tunnel-command').click();
      const card = page.locator('[data-testid="tunnel-status"][data-state="running"]');
      await card.waitFor({ timeout: 15000 });
      await page.getByTestId('tunnel-url').filter({ hasText: `https://fake-${n}.trycloudflare.com` }).waitFor({ timeout: 15000 });
      assert.match(await page.getByTestId('tunnel-log').innerText(), /fake-/);
      // The captured URL is the public URL: what to paste into AfterShip follows it.
      await page.getByTestId('setup-aftership-url').filter({ hasText: `https://fake-${n}.trycloudflare.com/webhooks/aftership` }).waitFor({ timeout: 15000 });
      await page.getByTestId('tunnel-status').scrollIntoViewIfNeeded();
      await shot(page, 'dev-tunnel', 1100);
      await goHash(page, '#/settings');
      await page.getByTestId('settings-view').waitFor();
      await page.locator('[data-testid="tunnel-status"][data-state="running"]').waitFor();
      await page.getByTestId('tunnel-status').scrollIntoViewIfNeeded();
      await shot(page, 'dev-settings-tunnel');
    } finally {
      await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ tunnel_command: '' }) }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('developer tools (secret set in the app)', () => {
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
    await page.goto(serve.inspectorUrl);
    await page.getByTestId('status-bar').waitFor();
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });

  it('re-verify failed after setting the right secret: the failed delivery turns valid', {}, async (t) => {
    if (!(await needs(t, serve, 'POST', '/api/reverify-failed'))) return;
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ secret: 'the-wrong-secret' }) });
    const r = await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: 'DEVREVERIFY1' }), { secret: 'the-right-secret' });
    assert.equal(r.status, 401);
    await goHash(page, '#/feed');
    const row = page.locator('[data-testid="feed-row"]:has-text("DEVREVERIFY1")');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-verdict'), 'invalid');
    await goHash(page, '#/settings');
    await page.getByTestId('settings-view').waitFor();
    await page.getByTestId('secret-input').fill('the-right-secret');
    await page.getByTestId('secret-save').click();
    await page.getByTestId('toast').filter({ hasText: 'replaced' }).waitFor();
    await page.getByTestId('reverify-failed-run').click();
    await page.getByTestId('reverify-failed-result').waitFor();
    assert.equal(await page.getByTestId('rf-checked').innerText(), '1');
    assert.equal(await page.getByTestId('rf-now-valid').innerText(), '1');
    assert.equal(await page.getByTestId('rf-shipments').innerText(), '1');
    await shot(page, 'dev-reverify-failed');
    await goHash(page, '#/feed');
    await page.locator('[data-testid="feed-row"][data-verdict="valid"]:has-text("DEVREVERIFY1")').waitFor({ timeout: 5000 });
  });

  it('a public URL changed since the last delivery: a loud banner, dismissable for the session', {}, async (t) => {
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ public_url: 'https://old-name.trycloudflare.com', secret: 'the-right-secret' }) });
    const r = await postDelivery(serve.receiverUrl, makeBody({ trackingNumber: 'DEVURLCHANGE' }), { secret: 'the-right-secret' });
    assert.equal(r.status, 200);
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ public_url: 'https://new-name.trycloudflare.com' }) });
    const st = await serve.api('/api/status');
    if (!st.warnings.some((w) => /changed since the last delivery/i.test(w))) {
      t.skip(`this shipwatch build does not warn yet when the public URL changed (warnings: ${JSON.stringify(st.warnings)})`);
      return;
    }
    await page.reload();
    await goHash(page, '#/feed');
    const banner = page.locator('[data-testid="loud-warning"][data-kind="url_changed"]');
    await banner.waitFor({ timeout: 15000 });
    assert.match(await banner.innerText(), /new-name\.trycloudflare\.com/);
    await shot(page, 'dev-warning-banner');
    await banner.getByTestId('loud-warning-dismiss').click();
    await banner.waitFor({ state: 'detached' });
    await page.reload();
    await page.getByTestId('feed-view').waitFor();
    await page.waitForTimeout(300);
    assert.equal(await page.getByTestId('loud-warning').count(), 0, 'dismissed for this session');
  });
});
