// The delivery page shows the headers as they arrived on the wire: each name in the case sent, in
// the order sent, a repeated header at each of its places. A real `shipwatch serve`, a raw TCP
// request (fetch would normalise the headers), Debian's Chromium.
// Run: node --test tests/e2e/header_case.test.mjs
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARTIFACTS, ensureBuilt, launchBrowser, makeBody, startServe } from './helpers.mjs';

const SECRET = 'e2e-header-case-secret';

/** Writes the request to the receiver (`Connection: close`) and resolves with the status of its answer. */
function rawPost(receiverUrl, headLines, body) {
  const url = new URL(receiverUrl);
  const head = `POST ${url.pathname} HTTP/1.1\r\n` + headLines.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n';
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(Buffer.concat([Buffer.from(head), body])));
    let answer = '';
    socket.on('data', (d) => (answer += d));
    socket.on('end', () => resolve(Number(answer.slice(9, 12))));
    socket.on('error', reject);
  });
}

describe('the delivery page', () => {
  let serve;
  let browser;

  before(async () => {
    ensureBuilt();
    serve = await startServe({ secret: SECRET });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
  });

  test('shows the headers in the case and order they arrived, repeats in place', async () => {
    const body = Buffer.from(JSON.stringify(makeBody({ trackingNumber: 'HEADERCASE1', orderId: 'ORD-HC' })));
    const sig = createHmac('sha256', SECRET).update(body).digest('base64');
    const host = new URL(serve.receiverUrl).host;
    const lines = [
      ['Host', host],
      ['X-Custom', 'one'],
      ['Aftership-Hmac-Sha256', sig],
      ['content-TYPE', 'application/json'],
      ['x-CUSTOM', 'two'],
      ['Content-Length', String(body.length)],
      ['aftership-hmac-sha256', sig],
      ['Connection', 'close'],
    ];
    assert.equal(await rawPost(serve.receiverUrl, lines, body), 200);
    const page1 = await serve.api('/api/deliveries?limit=1');
    const id = page1.items[0].id;

    const page = await browser.context.newPage();
    await page.goto(serve.inspectorUrl);
    await page.getByTestId('status-bar').waitFor();
    await page.evaluate((h) => (location.hash = h), `#/delivery/${id}`);
    await page.getByTestId('headers-table').waitFor();
    const shown = await page
      .getByTestId('headers-table')
      .locator('tr')
      .evaluateAll((rows) => rows.map((r) => [r.querySelector('th').textContent, r.querySelector('td').textContent]));
    assert.deepEqual(shown, lines);
    assert.equal(await page.getByTestId('sig-stored').getAttribute('data-verdict'), 'valid');
    await page.getByTestId('headers-section').screenshot({ path: join(ARTIFACTS, 'header-case.png') });
    await page.close();
  });
});
