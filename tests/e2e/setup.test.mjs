// Honest setup (issue 22) in Chromium against a real `shipwatch serve`: a public URL that is not a
// real host name is refused (inline and by the server); a self-test that fails on DNS never says
// "All set"; a tunnel command whose program is not installed says what to install and is not
// retried; "All set" once a self-test passed through a (stand-in) tunnel, or once a validly signed
// delivery came in through one.
// Run: node --test tests/e2e/setup.test.mjs   (builds target/debug/shipwatch and ui/dist when missing)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, ensureBuilt, launchBrowser, makeBody, sign, startServe } from './helpers.mjs';

const SECRET = 'e2e-setup-secret-3c5d';
// The stand-in tunnel below is http on loopback: `shipwatch serve` accepts it as the public URL only so.
// (Bare names, IP addresses elsewhere and plain http to other hosts are still refused.)
process.env.SHIPWATCH_ALLOW_LOOPBACK_PUBLIC_URL = '1';

/** A screenshot of the top of the page (the verdict) down to `height` px; the page scrolls inside its view. */
async function shot(page, name, height = 1300) {
  const vp = page.viewportSize();
  await page.setViewportSize({ width: vp.width, height });
  await page.evaluate(() => document.querySelector('[data-testid="setup-view"]')?.scrollIntoView());
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  await page.setViewportSize(vp);
}

/** A stand-in tunnel on loopback: forwards every request to `target` as it came, no headers added. */
async function proxy(target) {
  const t = new URL(target);
  const server = createServer((req, res) => {
    const up = httpRequest(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

async function putSettings(serve, body) {
  const res = await fetch(`${serve.origin}/api/settings`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${serve.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function openSetup(page, serve) {
  await page.goto(`${serve.inspectorUrl}#/setup`);
  await page.getByTestId('setup-view').waitFor();
}

describe('honest setup', () => {
  let serve;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    ensureBuilt();
    serve = await startServe({ secret: SECRET });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });

  it('refuses a public URL that is not a real host name, inline and in the API', async () => {
    await openSetup(page, serve);
    await page.getByTestId('tunnel-mode-url').click();
    await page.getByTestId('setup-public-url').fill('https://shop-hoo');
    const check = page.locator('[data-testid="public-url-check"][data-ok="false"]');
    await check.waitFor();
    assert.match(await check.innerText(), /"shop-hoo" is not a public host name/);
    assert.match(await check.innerText(), /e\.g\. https:\/\/shop\.trycloudflare\.com/);
    assert.equal(await page.getByTestId('save-public-url').isDisabled(), true, 'cannot be saved');
    await shot(page, 'setup-url-refused', 900);

    // The server refuses it too (and a bare IP, and plain http to a host on the Internet).
    for (const [url, says] of [
      ['https://shop-hoo', /is not a public host name/],
      ['https://203.0.113.7', /is an IP address/],
      ['http://shop.trycloudflare.com', /only delivers webhooks to https:\/\//],
    ]) {
      const r = await putSettings(serve, { public_url: url });
      assert.equal(r.status, 400, url);
      assert.match(r.body.error, says, url);
    }
    assert.equal((await serve.api('/api/settings')).public_url, null);
  });

  it('never says "All set" when the self-test through the tunnel fails on DNS', async () => {
    await openSetup(page, serve);
    await page.getByTestId('tunnel-mode-url').click();
    // A real host name that resolves nowhere (.invalid is reserved for that).
    await page.getByTestId('setup-public-url').fill('https://shop-hoo.invalid');
    await page.getByTestId('save-public-url').click();
    await page.getByTestId('sb-public-url').filter({ hasText: 'shop-hoo.invalid' }).waitFor();
    // URL and secret set, nothing proven yet: not "All set".
    const verdict = page.getByTestId('setup-verdict');
    await page.locator('[data-testid="setup-verdict"][data-kind="untested"]').waitFor();
    assert.doesNotMatch(await verdict.innerText(), /all set/i);

    await page.getByTestId('self-test-run').click();
    const result = page.locator('[data-testid="self-test-result"][data-hop="dns"]');
    await result.waitFor({ timeout: 20000 });
    await page.locator('[data-testid="setup-verdict"][data-kind="failed"]').waitFor();
    assert.match(await verdict.innerText(), /Not set up yet: the test through your tunnel failed \(DNS/);
    assert.match(await page.getByTestId('self-test-advice').innerText(), /What to do/);
    assert.doesNotMatch(await page.locator('body').innerText(), /all set/i, 'nowhere on the page');
    assert.equal(await page.locator('[data-testid="step-aftership"].done').count(), 0, 'step 3 is not done');
    await shot(page, 'setup-selftest-dns-failed', 1500);
  });

  it('a tunnel command whose program is not installed says what to install and is not retried', async (t) => {
    if (spawnSync('sh', ['-c', 'command -v cloudflared']).status === 0) {
      t.skip('cloudflared is installed on this machine');
      return;
    }
    await openSetup(page, serve);
    await page.getByTestId('tunnel-mode-command').click();
    await page.getByTestId('setup-tunnel-command').fill('cloudflared tunnel --url http://127.0.0.1:{port}');
    await page.getByTestId('save-tunnel-command').click();
    const stopped = page.locator('[data-testid="tunnel-stopped"][data-code="program_not_found"]');
    await stopped.waitFor({ timeout: 15000 });
    assert.equal(await page.getByTestId('tunnel-state').innerText(), 'Not installed');
    assert.match(await page.getByTestId('tunnel-stopped-title').innerText(), /cloudflared is not installed/);
    assert.match(await page.getByTestId('tunnel-stopped-advice').innerText(), /developers\.cloudflare\.com/);
    assert.match(await page.getByTestId('tunnel-stopped-advice').innerText(), /I run the tunnel/);
    assert.equal(await page.getByTestId('tunnel-restarts').innerText(), '0 restarts');
    const log = await page.getByTestId('tunnel-log').innerText();
    assert.doesNotMatch(log, /sh: \d+: cloudflared: not found/, 'it was never started');
    const status = await serve.api('/api/tunnel');
    assert.equal(status.state, 'stopped');
    assert.equal(status.restarts, 0);
    assert.equal(status.stopped_reason.code, 'program_not_found');
    await shot(page, 'setup-tunnel-not-installed', 1500);
    // "I run the tunnel myself" goes back to the URL field.
    await page.getByTestId('tunnel-run-it-myself').click();
    await page.getByTestId('setup-public-url').waitFor();
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ tunnel_command: '' }) });
  });

  it('says "All set" once a self-test passed through the tunnel', async () => {
    const tunnel = await proxy(serve.receiverUrl);
    try {
      const r = await putSettings(serve, { public_url: tunnel.url, tunnel_command: '' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await openSetup(page, serve);
      await page.locator('[data-testid="setup-verdict"][data-kind="untested"]').waitFor();
      await page.getByTestId('self-test-run').click();
      await page.locator('[data-testid="self-test-result"][data-ok="true"]').waitFor({ timeout: 20000 });
      await page.locator('[data-testid="setup-verdict"][data-kind="all_set"]').waitFor();
      assert.match(await page.getByTestId('setup-verdict').innerText(), /All set: a signed test went through your tunnel/);
      await page.locator('[data-testid="step-aftership"].done').waitFor();
      await shot(page, 'setup-all-set-self-test', 1500);
      // Another public URL: the passed test was for the old one.
      const other = await putSettings(serve, { public_url: 'https://shop-hoo.invalid' });
      assert.equal(other.status, 200);
      await page.reload();
      await page.locator('[data-testid="setup-verdict"][data-kind="untested"]').waitFor();
    } finally {
      await tunnel.close();
    }
  });

  it('says "All set" once a validly signed delivery came in through a tunnel', async () => {
    await openSetup(page, serve);
    await page.locator('[data-testid="setup-verdict"][data-kind="untested"]').waitFor();
    // A delivery posted straight to the receiver (no tunnel headers) proves nothing about the tunnel.
    const post = async (headers) => {
      const raw = JSON.stringify(makeBody({ trackingNumber: `TUN${Date.now()}${Math.floor(Math.random() * 1e6)}` }));
      const res = await fetch(serve.receiverUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'aftership-hmac-sha256': sign(SECRET, raw), ...headers },
        body: raw,
      });
      assert.equal(res.status, 200);
    };
    await post({});
    await page.reload();
    await page.getByTestId('setup-view').waitFor();
    await page.locator('[data-testid="setup-verdict"][data-kind="untested"]').waitFor();
    assert.equal(await page.getByTestId('setup-tunnel-delivery').count(), 0);
    // As cloudflared delivers it: with the caller's address in the forwarding headers.
    await post({ 'X-Forwarded-For': '203.0.113.9', 'Cf-Connecting-Ip': '203.0.113.9' });
    await page.reload();
    await page.getByTestId('setup-view').waitFor();
    await page.locator('[data-testid="setup-verdict"][data-kind="all_set"]').waitFor({ timeout: 15000 });
    assert.match(await page.getByTestId('setup-verdict').innerText(), /All set: AfterShip.s deliveries arrive through your tunnel/);
    await page.getByTestId('setup-tunnel-delivery').waitFor();
    await shot(page, 'setup-all-set-delivery', 1500);
  });
});
