// Replay in Chromium against a real `shipwatch serve` (issue 20): the body editor shows the JSON
// re-indented but an unedited replay arrives byte-identical at a capture server on loopback; an
// edited field replayed into Shipwatch signed with the previous secret is verified as "previous";
// "as received" on an edited body warns; "copy as curl" to a chosen URL with a typed secret carries
// the signature, never the secret, with the headers in the order received, and real curl delivers
// it; a binary body is replayed as received, not editable. Screenshots light and dark.
// Run: node --test tests/e2e/replay.test.mjs   (builds target/debug/shipwatch and ui/dist when missing)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { ARTIFACTS, ensureBuilt, launchBrowser, makeBody, postDelivery, sign, startServe } from './helpers.mjs';

const CURRENT = 'e2e-replay-current-5e1f';
const PREVIOUS = 'e2e-replay-previous-8d2c';
const TYPED = 'typed-in-the-browser-71b9';

/** Runs a shell command without blocking this process (the capture server answers from it). */
const sh = async (cmd) => (await promisify(execFile)('sh', ['-c', cmd], { encoding: 'utf8', timeout: 20000 })).stdout;

/** A loopback HTTP server that records every request (path, headers in order, raw body). */
async function captureServer() {
  const requests = [];
  const waiters = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = { url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, raw: Buffer.concat(chunks) };
      requests.push(r);
      for (const w of waiters.splice(0)) w(r);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ captured: requests.length }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
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

/**
 * An AfterShip body as no serialiser writes it: `msg` before `event`, spaces around some colons, a
 * CRLF and a tab between members, `\u00e9` and `\/` escapes, a number in exponent form.
 */
function oddBody(trackingNumber) {
  const b = makeBody({ trackingNumber, tag: 'InTransit', title: 'TITLE_HERE' });
  const reordered = { msg: b.msg, event: b.event, event_id: b.event_id, is_tracking_first_tag: b.is_tracking_first_tag, ts: b.ts };
  return JSON.stringify(reordered)
    .replace('"TITLE_HERE"', '"Caf\\u00e9 \\/ \\"Q\\""')
    .replace('"event":', '"event" :  ')
    .replace(',"ts":', ',\r\n\t"ts" : ')
    .replace(/}$/, ', "weight": 1.50e+2 }');
}

describe('replay: editor, signing choices, copy as curl', () => {
  let serve;
  let browser;
  let page;
  let original; // { id, raw }
  let edited; // the edited body as replayed into Shipwatch
  const pageErrors = [];
  const typedSecretRequests = [];

  /** The whole replay panel in a tall window, centred below the sticky header. */
  async function shot(name) {
    const vp = page.viewportSize();
    await page.setViewportSize({ width: vp.width, height: 1500 });
    await page.getByTestId('replay-panel').evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
    await page.setViewportSize(vp);
  }

  /** Runs `fn`, saving a screenshot of the page when it fails. */
  const it = (name, fn) =>
    test(name, async () => {
      try {
        await fn();
      } catch (e) {
        const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
        if (page && !page.isClosed()) await page.screenshot({ path: join(ARTIFACTS, `FAIL-replay-${slug}.png`) }).catch(() => {});
        throw e;
      }
    });

  async function openDelivery(id) {
    await page.evaluate((h) => (location.hash = h), `#/delivery/${id}`);
    await page.waitForFunction((id) => document.querySelector('[data-testid="delivery-view"]')?.getAttribute('data-id') === String(id), id);
    // This delivery's panel, its editor loaded (or its binary note): not the previous page's.
    await page.locator(`[data-testid="replay-panel"][data-delivery-id="${id}"]`).waitFor();
    await page.locator('[data-testid="replay-editor"][data-state="ready"], [data-testid="replay-binary"]').waitFor();
  }

  /**
   * Edits the body as a person would: Ctrl+F in the editor, find `find` (from the top), Escape (the
   * match stays selected), type `replacement` over it.
   */
  async function replaceInEditor(find, replacement) {
    const editor = page.getByTestId('replay-editor');
    await editor.locator('.cm-content').click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Control+f');
    const field = editor.locator('.cm-search input[name="search"]');
    await field.pressSequentially(find);
    await field.press('Enter');
    await page.keyboard.press('Escape');
    await page.keyboard.type(replacement);
  }

  before(async () => {
    ensureBuilt();
    process.env.SHIPWATCH_PREVIOUS_SECRET = PREVIOUS;
    // Debug logging: the typed secret must not show up in it.
    process.env.SHIPWATCH_LOG = 'debug';
    try {
      serve = await startServe({ secret: CURRENT });
    } finally {
      delete process.env.SHIPWATCH_PREVIOUS_SECRET;
      delete process.env.SHIPWATCH_LOG;
    }
    await serve.api('/api/settings', { method: 'PUT', body: JSON.stringify({ public_url: 'https://hooks.example.com' }) });
    const r = await postDelivery(serve.receiverUrl, oddBody('REPLAYEDIT01'), { secret: CURRENT });
    assert.equal(r.status, 200, r.text);
    original = { id: (await serve.api('/api/deliveries')).items[0].id, raw: r.raw };
    browser = await launchBrowser();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: serve.origin });
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (req) => {
      if ((req.postData() ?? '').includes(TYPED)) typedSecretRequests.push(req.url());
    });
    await page.goto(serve.inspectorUrl);
    await page.getByTestId('status-bar').waitFor();
  });

  after(async () => {
    await browser?.close();
    const stderr = serve?.stderr ?? '';
    await serve?.stop();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
    assert.ok(!stderr.includes(TYPED), 'the typed secret is never logged, even at debug');
    for (const u of typedSecretRequests) assert.ok(u.startsWith(serve.origin + '/api/'), `the typed secret went only to the local engine, not ${u}`);
  });

  it('shows the body re-indented, yet an unedited replay arrives byte-identical', async () => {
    await openDelivery(original.id);
    const editor = page.getByTestId('replay-editor');
    await editor.locator('.cm-content').waitFor();
    // 2-space JSON, every token as sent: the escapes and the exponent stay.
    assert.equal(await editor.locator('.cm-line').first().innerText(), '{');
    assert.equal(await editor.locator('.cm-line').nth(1).innerText(), '  "msg": {');
    await editor.locator('.cm-line', { hasText: '"title": "Caf\\u00e9 \\/ \\"Q\\""' }).first().waitFor();
    assert.equal(await page.getByTestId('replay-body-state').getAttribute('data-edited'), 'false');
    assert.match(await page.getByTestId('replay-body-state').innerText(), /sent byte for byte \(shown re-indented\)/);
    assert.match(await page.getByTestId('replay-sign-note').innerText(), /exactly as received/);
    await shot('replay-editor-light');

    const cap = await captureServer();
    try {
      await page.getByTestId('replay-target-url').click();
      await page.getByTestId('replay-url').fill(cap.url + '/hooks/aftership');
      const arrived = cap.next();
      await page.getByTestId('replay-send').click();
      const got = await arrived;
      assert.ok(got.raw.equals(Buffer.from(original.raw, 'utf8')), `byte-identical:\n${got.raw.toString('utf8')}\n!=\n${original.raw}`);
      assert.equal(got.headers['aftership-hmac-sha256'], sign(CURRENT, original.raw), 'the signature as received');
      await page.locator('[data-testid="replay-result"][data-status="200"]').waitFor();
      assert.equal(await page.getByTestId('replay-sent').getAttribute('data-signed-with'), 'original');
    } finally {
      await cap.close();
    }
  });

  it('an edited field replayed into Shipwatch with the previous secret is verified as previous', async () => {
    await openDelivery(original.id);
    await page.getByTestId('replay-target-shipwatch').click();
    const editor = page.getByTestId('replay-editor');
    await replaceInEditor('"tag": "InTransit"', '"tag": "Delivered"');
    await editor.locator('.cm-line', { hasText: '"tag": "Delivered"' }).first().waitFor();
    const state = page.getByTestId('replay-body-state');
    assert.equal(await state.getAttribute('data-edited'), 'true');
    assert.match(await state.innerText(), /Edited · your text is sent/);
    // The first edit re-signs with the current secret.
    assert.equal(await page.getByTestId('replay-panel').getAttribute('data-sign-with'), 'current');
    // "As received" on an edited body: said to no longer match.
    await page.getByTestId('replay-sign-original').click();
    const note = page.getByTestId('replay-sign-note');
    assert.equal(await note.getAttribute('data-kind'), 'warn');
    assert.match(await note.innerText(), /no longer matches the edited body/);
    await shot('replay-edited-stale-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('replay-edited-stale-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    await page.getByTestId('replay-sign-previous').click();
    assert.match(await note.innerText(), /previous secret/);
    assert.match(await page.getByTestId('replay-summary').innerText(), /edited body · signed with the previous secret/);
    await page.getByTestId('replay-send').click();
    await page.locator('[data-testid="replay-result"][data-status="200"]').waitFor();
    assert.equal(await page.getByTestId('replay-sent').getAttribute('data-signed-with'), 'previous');
    const link = page.getByTestId('replay-delivery-link');
    await link.waitFor();
    const newId = Number((await link.getAttribute('href')).split('/').pop());
    assert.ok(newId > original.id);
    const stored = await serve.api(`/api/deliveries/${newId}`);
    edited = Buffer.from(stored.body_base64, 'base64').toString('utf8');
    assert.match(edited, /\n {4}"tag": "Delivered",\n/, 'the edited, re-indented text');
    assert.ok(edited.includes('"title": "Caf\\u00e9 \\/ \\"Q\\""'), 'escapes kept as sent');
    assert.equal(stored.verdict, 'valid');
    assert.equal(stored.signature.secret, 'previous');
    await page.getByTestId('replay-panel').scrollIntoViewIfNeeded();
    await page.getByTestId('replay-result').screenshot({ path: join(ARTIFACTS, 'replay-result-previous-light.png') });
    // The delivery it became says so too.
    await link.click();
    await page.waitForFunction((id) => document.querySelector('[data-testid="delivery-view"]')?.getAttribute('data-id') === String(id), newId);
    assert.match(await page.getByTestId('sig-secret').innerText(), /matched the previous secret/);
  });

  it('copy as curl to a chosen URL, signed with a typed secret: the signature, never the secret, headers in order', async () => {
    await openDelivery(original.id);
    // Edit the same way again (the editor starts from the stored body on every visit).
    await replaceInEditor('"tag": "InTransit"', '"tag": "Delivered"');
    await page.getByTestId('replay-sign-typed').click();
    assert.equal(await page.getByTestId('replay-copy-curl').isDisabled(), true, 'no secret typed yet');
    assert.match(await page.getByTestId('replay-problem').innerText(), /Type the secret/);
    await page.getByTestId('replay-secret').fill(TYPED);
    assert.equal(await page.getByTestId('replay-secret').getAttribute('type'), 'password');

    // The local receiver by default; the public URL; then a URL typed.
    assert.equal(await page.getByTestId('replay-curl-shown-url').innerText(), serve.receiverUrl);
    await page.getByTestId('replay-curl-target-public').click();
    assert.equal(await page.getByTestId('replay-curl-shown-url').innerText(), 'https://hooks.example.com/webhooks/aftership');
    const cap = await captureServer();
    try {
      await page.getByTestId('replay-curl-target-url').click();
      await page.getByTestId('replay-curl-url').fill(cap.url + '/staging/hook');
      await shot('replay-curl-typed-light');
      await page.emulateMedia({ colorScheme: 'dark' });
      await shot('replay-curl-typed-dark');
      await page.emulateMedia({ colorScheme: 'light' });
      await page.getByTestId('replay-copy-curl').click();
      await page.waitForFunction(() => typeof window.__lastCopied === 'string' && window.__lastCopied.includes('/staging/hook'));
      const cmd = await page.evaluate(() => navigator.clipboard.readText());
      assert.equal(cmd, await page.evaluate(() => window.__lastCopied));
      assert.ok(cmd.startsWith(`curl -sS -i -X POST ${cap.url}/staging/hook `), cmd.slice(0, 120));
      assert.ok(!cmd.includes(TYPED), 'the typed secret is not in the command');
      assert.ok(!cmd.includes(CURRENT) && !cmd.includes(PREVIOUS), 'nor any configured secret');
      // Headers in the order they were received (minus host, content-length and hop-by-hop).
      const detail = await serve.api(`/api/deliveries/${original.id}`);
      const received = detail.headers.map(([n]) => n).filter((n) => !['host', 'content-length', 'connection'].includes(n.toLowerCase()));
      const inCmd = [...cmd.matchAll(/ -H '?([A-Za-z0-9-]+)[:;]/g)].map((m) => m[1]).filter((n) => n !== 'Expect');
      assert.deepEqual(inCmd, received);
      if (existsSync('/usr/bin/curl')) {
        const arrived = cap.next();
        const out = await sh(cmd);
        assert.match(out, /^HTTP\/1\.1 200/m);
        const got = await arrived;
        assert.equal(got.url, '/staging/hook');
        assert.equal(got.raw.toString('utf8'), edited, 'the edited text, as replayed before');
        assert.equal(got.headers['aftership-hmac-sha256'], sign(TYPED, edited), 'signed with the typed secret');
        const names = got.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        const ours = names.filter((n) => received.map((r) => r.toLowerCase()).includes(n));
        assert.deepEqual(ours, received.map((r) => r.toLowerCase()), 'arrived in the received order');
      }
    } finally {
      await cap.close();
    }

    // Reset to original: the stored bytes again, and "as received" curl to the local receiver is accepted.
    await page.getByTestId('replay-reset').click();
    assert.equal(await page.getByTestId('replay-body-state').getAttribute('data-edited'), 'false');
    await page.getByTestId('replay-sign-original').click();
    await page.getByTestId('replay-curl-target-local').click();
    await page.evaluate(() => (window.__lastCopied = ''));
    await page.getByTestId('replay-copy-curl').click();
    await page.waitForFunction(() => !!window.__lastCopied);
    const cmd = await page.evaluate(() => window.__lastCopied);
    assert.ok(cmd.includes(`aftership-hmac-sha256: ${sign(CURRENT, original.raw)}`), 'the signature as received');
    if (existsSync('/usr/bin/curl')) {
      const out = await sh(cmd);
      assert.match(out, /^HTTP\/1\.1 200/m, out);
      const newest = (await serve.api('/api/deliveries?limit=1')).items[0];
      const d = await serve.api(`/api/deliveries/${newest.id}`);
      assert.equal(Buffer.from(d.body_base64, 'base64').toString('utf8'), original.raw, 'byte-identical through curl');
      assert.equal(d.verdict, 'valid');
    }
  });

  it('a binary body is replayed as received, not editable', async () => {
    const bin = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff]), Buffer.from(randomUUID())]);
    const res = await fetch(serve.receiverUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream', 'aftership-hmac-sha256': sign(CURRENT, bin) },
      body: bin,
    });
    assert.equal(res.status, 200, await res.text());
    const id = (await serve.api('/api/deliveries?limit=1')).items[0].id;
    await openDelivery(id);
    assert.match(await page.getByTestId('replay-binary').innerText(), /binary body.*replayed as received, not editable/i);
    assert.equal(await page.getByTestId('replay-editor').count(), 0);
    const cap = await captureServer();
    try {
      await page.getByTestId('replay-target-url').click();
      await page.getByTestId('replay-url').fill(cap.url + '/bin');
      const arrived = cap.next();
      await page.getByTestId('replay-send').click();
      assert.ok((await arrived).raw.equals(bin), 'the binary bytes as received');
    } finally {
      await cap.close();
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('replay-binary-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });
});
