// The feed names why each failed delivery failed ("✗ wrong secret", "✗ hex signature", ...) instead of
// a bare FAIL, and filters by that reason (the filter bar and the URL hash), live rows included. A real
// `shipwatch serve`, real deliveries signed right and wrong, Debian's Chromium.
// Run: node --test tests/e2e/diagnosis.test.mjs
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARTIFACTS, ensureBuilt, launchBrowser, makeBody, postDelivery, sign, startServe } from './helpers.mjs';

const SECRET = 'e2e-diagnosis-secret';

describe('the feed says why a signature failed', () => {
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

  test('a label per failed row, and a filter by reason in the bar and the hash', async () => {
    const body = (tn) => JSON.stringify(makeBody({ trackingNumber: tn, orderId: `ORD-${tn}` }));
    const valid = body('DIAG0001VALID');
    assert.equal((await postDelivery(serve.receiverUrl, valid, { secret: SECRET })).status, 200);
    const wrong = body('DIAG0002WRONG');
    assert.equal((await postDelivery(serve.receiverUrl, wrong, { secret: 'not-the-secret' })).status, 401);
    const hexed = body('DIAG0003HEX');
    const hex = createHmac('sha256', SECRET).update(hexed).digest('hex');
    assert.equal((await postDelivery(serve.receiverUrl, hexed, { signature: hex })).status, 401);
    // Signed as AfterShip sent it (pretty-printed), received compacted by a proxy.
    const pretty = JSON.stringify(JSON.parse(body('DIAG0004PROXY')), null, 2);
    const compact = JSON.stringify(JSON.parse(pretty));
    assert.equal((await postDelivery(serve.receiverUrl, compact, { signature: sign(SECRET, pretty) })).status, 401);
    const unsigned = body('DIAG0005NOSIG');
    assert.equal((await postDelivery(serve.receiverUrl, unsigned, { signature: null })).status, 401);

    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 600 });
    await page.goto(serve.inspectorUrl);
    await page.getByTestId('status-bar').waitFor();
    await page.evaluate(() => (location.hash = '#/feed'));
    const rows = page.getByTestId('feed-row');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=feed-row]').length === 5);

    const shown = await rows.evaluateAll((els) =>
      els.map((r) => {
        const reason = r.querySelector('[data-testid=row-diagnosis]');
        return [
          r.querySelector('[data-testid=row-tracking]').textContent,
          reason ? reason.getAttribute('data-diagnosis') : null,
          (reason ?? r.querySelector('[data-testid=verdict-badge]')).textContent.trim(),
          r.querySelector('[data-testid=http-status]').textContent,
        ];
      }),
    );
    assert.deepEqual(shown, [
      ['DIAG0005NOSIG', 'missing_header', '✗ no signature header', '401'],
      ['DIAG0004PROXY', 'reserialised_body', '✗ re-serialised body', '401'],
      ['DIAG0003HEX', 'hex_signature', '✗ hex signature', '401'],
      ['DIAG0002WRONG', 'wrong_secret', '✗ wrong secret', '401'],
      ['DIAG0001VALID', null, '✓ pass', '200'],
    ]);
    // The whole label is visible in its column (not cut off).
    const clipped = await page
      .getByTestId('row-diagnosis')
      .evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.textContent));
    assert.deepEqual(clipped, []);
    await page.getByTestId('feed-view').screenshot({ path: join(ARTIFACTS, 'diagnosis-feed.png') });

    // Filter by reason from the bar: the hash says so, and only those rows remain.
    await page.getByTestId('filter-diagnosis').selectOption('wrong_secret');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=feed-row]').length === 1);
    assert.match(await page.evaluate(() => location.hash), /^#\/feed\?(.*&)?diagnosis=wrong_secret(&|$)/);
    assert.equal(await rows.first().getByTestId('row-tracking').textContent(), 'DIAG0002WRONG');

    // Live: a valid delivery stays out, another wrong-secret one comes in (in the order posted).
    assert.equal((await postDelivery(serve.receiverUrl, body('DIAG0006LATER'), { secret: SECRET })).status, 200);
    assert.equal((await postDelivery(serve.receiverUrl, body('DIAG0007WRONG'), { secret: 'also-wrong' })).status, 401);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=feed-row]').length === 2);
    assert.deepEqual(await rows.getByTestId('row-tracking').allTextContents(), ['DIAG0007WRONG', 'DIAG0002WRONG']);
    await page.getByTestId('feed-view').screenshot({ path: join(ARTIFACTS, 'diagnosis-filter.png') });

    // From the hash alone (a link, a reload): the filter is set and applied.
    await page.goto(`${serve.inspectorUrl}#/feed?diagnosis=hex_signature`);
    await page.waitForFunction(
      () =>
        document.querySelectorAll('[data-testid=feed-row]').length === 1 &&
        document.querySelector('[data-testid=row-tracking]').textContent === 'DIAG0003HEX',
    );
    assert.equal(await page.getByTestId('filter-diagnosis').inputValue(), 'hex_signature');

    // Clearing the filters shows every delivery again.
    await page.getByTestId('clear-filters').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=feed-row]').length === 7);

    // The delivery page gives the code beside the sentence, and a way to every delivery like it.
    await rows.filter({ hasText: 'DIAG0004PROXY' }).click();
    const code = page.getByTestId('sig-code');
    await code.waitFor();
    assert.equal(await code.getAttribute('data-diagnosis'), 'reserialised_body');
    assert.match(await code.innerText(), /reserialised_body \(re-serialised body\)/);
    assert.match(await page.getByTestId('sig-diagnosis').innerText(), /re-serialised/);
    await page.getByTestId('signature-panel').screenshot({ path: join(ARTIFACTS, 'diagnosis-delivery.png') });
    await page.getByTestId('sig-code-feed').click();
    await page.waitForFunction(
      () =>
        location.hash.includes('diagnosis=reserialised_body') &&
        document.querySelectorAll('[data-testid=feed-row]').length === 1 &&
        document.querySelector('[data-testid=row-tracking]').textContent === 'DIAG0004PROXY',
    );
    await page.close();
  });
});
