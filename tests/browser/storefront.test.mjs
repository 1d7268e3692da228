// The storefront in a real browser (Debian's chromium, driven by playwright-core), against the
// stack `make test` started (its addresses: support.mjs). Run by `make test` through
// `node --test tests/browser/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API, STOREFRONT, addToCart, admin, checkOut, eventually, mailsTo, packing, pay, unique, useBrowser,
} from './support.mjs';

const shopper = useBrowser();

test('a shopper browses, searches, fills a cart and pays with a test card; the mail links to the paid order', async () => {
  const { context, page } = await shopper();
  const email = `${unique('buyer')}@example.com`;
  const code = unique('TEN').toUpperCase().replace(/-/g, '_').slice(0, 32);
  await admin('PUT', `/admin/discounts/${code}`, { value: { type: 'percent', percent_bp: 1000 } });

  await page.goto(`${STOREFRONT}/`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en-US');
  await page.getByRole('link', { name: 'Footwear' }).click();
  await page.waitForURL(`${STOREFRONT}/categories/footwear`);
  await page.getByLabel('Search the shop').fill('sweater');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: /Merino Wool Crew Neck Sweater/ }).click();
  await page.waitForURL(`${STOREFRONT}/products/merino-crew-sweater`);
  const structured = JSON.parse(await page.locator('script[type="application/ld+json"]').textContent());
  assert.equal(structured['@type'], 'Product');

  await addToCart(page, 'merino-crew-sweater', 'Colour: Navy, Size: M — $89.00');
  await addToCart(page, 'merino-crew-sweater', 'Colour: Charcoal, Size: L — $89.00', 2);
  const rows = page.locator('table.lines tbody tr');
  assert.equal(await rows.count(), 2);
  await page.getByLabel(/Quantity of Merino Wool Crew Neck Sweater/).first().fill('3');
  await page.getByRole('button', { name: 'Update', exact: true }).first().click();
  await page.waitForURL(`${STOREFRONT}/cart`);
  await page.getByLabel('Discount code').fill(code);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(`${STOREFRONT}/cart`);
  assert.match(await page.locator('.totals').textContent(), /Discount\s*−\$/);
  // The cart survives a reload: it is the cookie's, not the page's.
  await page.reload();
  assert.equal(await rows.count(), 2);
  const cartTotal = await page.locator('dd.total').textContent();
  assert.match(cartTotal, /^\$[\d,]+\.\d\d$/);

  const orderUrl = await checkOut(page, email);
  assert.match(await page.locator('.status').textContent(), /Awaiting payment/);
  await pay(page, '4242 4242 4242 4242');
  await eventually('the order page saying it is paid', async () => {
    await page.waitForLoadState();
    const status = await page.locator('.status').textContent().catch(() => '');
    if (!/Paid|Being packed/.test(status)) {
      await page.waitForTimeout(0);
      return false;
    }
    return true;
  });

  const mails = await eventually('the confirmation mail', async () => {
    const found = (await mailsTo(email)).filter((mail) => /confirmed/.test(mail.subject));
    return found.length ? found : null;
  });
  const orderId = new URL(orderUrl).pathname.split('/').pop();
  // The mail's HTML escapes the link as any attribute (`&#x2f;` for `/`).
  const html = (mails[0].body?.html || '').replace(/&#x2f;/gi, '/').replace(/&amp;/g, '&');
  const link = html.match(/href="([^"]*\/orders\/[^"]+)"/);
  assert.ok(link, 'the confirmation mail links to the order page');
  const linked = link[1];
  assert.ok(linked.startsWith(`${STOREFRONT}/orders/${orderId}?token=`), linked);
  const reader = await context.newPage();
  await reader.goto(linked);
  assert.match(await reader.locator('h1').textContent(), new RegExp(orderId));
  await context.close();
});

test('a declined card says why and a retry with a good card pays', async () => {
  const { context, page } = await shopper();
  await addToCart(page, 'hand-poured-soy-wax-candle', 'Scent: Fig — $28.00');
  await checkOut(page, `${unique('declined')}@example.com`);
  await pay(page, '4000 0000 0000 0002');
  const message = page.locator('#payment-message');
  await message.waitFor({ state: 'visible' });
  assert.match(await message.textContent(), /declined/i);
  await pay(page, '4242 4242 4242 4242');
  await eventually('the retried payment', async () => /Paid|Being packed/.test(await page.locator('.status').textContent().catch(() => '')));
  await context.close();
});

test('a sold-out variant cannot be added and a sold-out product has no button', async () => {
  const { context, page } = await shopper();
  await page.goto(`${STOREFRONT}/products/sheepskin-moccasin-slippers`);
  assert.equal(await page.getByText('Sold out', { exact: true }).count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Add to cart' }).count(), 0);
  await page.goto(`${STOREFRONT}/products/velvet-cushion-cover`);
  const rust = page.locator('option', { hasText: 'Rust' });
  assert.equal(await rust.getAttribute('disabled'), '');
  await context.close();
});

test('browsing and the cart work with JavaScript off', async () => {
  const { context, page } = await shopper({ javaScript: false });
  await page.goto(`${STOREFRONT}/categories/kitchen`);
  await page.getByRole('link', { name: /Japanese Steel Chef's Knife/ }).first().click();
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForURL(`${STOREFRONT}/cart`);
  assert.match(await page.locator('table.lines').textContent(), /Japanese Steel Chef's Knife/);
  await page.getByRole('button', { name: 'Remove' }).click();
  await page.waitForURL(`${STOREFRONT}/cart`);
  assert.match(await page.locator('main').textContent(), /Your cart is empty/);
  await context.close();
});

test('a return is asked for from the order page once the desk shipped the order', async () => {
  const { context, page } = await shopper();
  const email = `${unique('returns')}@example.com`;
  await addToCart(page, 'organic-linen-tea-towels', 'Colour: Striped — $24.00', 2);
  const orderUrl = await checkOut(page, email);
  await pay(page, '4242 4242 4242 4242');
  const orderId = new URL(orderUrl).pathname.split('/').pop();
  await packing(orderId);
  await admin('POST', `/admin/orders/${orderId}/shipments`, { carrier: 'UPS', tracking_number: '1Z999' });
  await page.goto(orderUrl);
  assert.match(await page.locator('.status').textContent(), /Shipped/);
  await page.getByLabel('Units of Organic Linen Tea Towels (Set of 3) to return').fill('1');
  await page.getByLabel('Reason', { exact: true }).fill('Too many towels');
  await page.getByRole('button', { name: 'Request a return' }).click();
  await page.waitForURL(orderUrl);
  assert.match(await page.locator('.status').textContent(), /Return requested/);
  await context.close();
});

test('an exchange for a dearer size is asked for from the order page and its difference paid there', async () => {
  const { context, page } = await shopper();
  await addToCart(page, 'stoneware-planter-with-saucer', 'Size: Small — $24.00');
  const orderUrl = await checkOut(page, `${unique('exchange')}@example.com`);
  await pay(page, '4242 4242 4242 4242');
  const orderId = new URL(orderUrl).pathname.split('/').pop();
  await packing(orderId);
  await admin('POST', `/admin/orders/${orderId}/shipments`, { carrier: 'UPS', tracking_number: '1Z998' });
  await page.goto(orderUrl);
  await page.getByLabel('Item to exchange').selectOption({ label: 'Stoneware Planter with Drainage Saucer (Size: Small)' });
  await page.getByLabel('Replacement').selectOption({ label: 'Size: Large — $48.00' });
  await page.getByLabel('Reason for the exchange').fill('Too small for the fig');
  await page.getByRole('button', { name: 'Request an exchange' }).click();
  await page.waitForURL(orderUrl);
  assert.match(await page.locator('main').textContent(), /Pay the difference below/);
  // The difference is the API's: the large one's price and tax less what the small one is worth.
  const order = await (await fetch(`${API}/orders/${orderId}?token=${new URL(orderUrl).searchParams.get('token')}`)).json();
  const owed = order.exchange_payments[0].amount.amount;
  assert.ok(owed > 0, JSON.stringify(order.exchange_payments));
  const shown = await page.locator('section.pay').textContent();
  assert.ok(shown.includes(`$${(owed / 100).toFixed(2)}`), shown);
  await pay(page, '4242 4242 4242 4242');
  await eventually('the exchange paid', async () => {
    await page.waitForLoadState();
    return /difference paid/.test(await page.locator('li.exchange').textContent().catch(() => ''));
  });
  assert.equal(await page.locator('section.pay').count(), 0);
  await context.close();
});

test('a page that does not exist is an HTML page with a 404', async () => {
  const { context, page } = await shopper();
  const response = await page.goto(`${STOREFRONT}/no/such/page`);
  assert.equal(response.status(), 404);
  assert.match(await page.locator('h1').textContent(), /Page not found/);
  await context.close();
});

test('a shopper finds their orders by email and writes to the shop', async () => {
  const { context, page } = await shopper();
  const email = `${unique('service')}@example.com`;
  await page.goto(`${STOREFRONT}/`);
  await page.getByRole('link', { name: 'Find your orders' }).click();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Send me my orders' }).click();
  assert.match(await page.locator('main').textContent(), new RegExp(`If ${email.replace(/[.+]/g, '\\$&')} has orders`));
  await page.getByRole('link', { name: 'Contact us' }).click();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Subject').fill('Where is my parcel?');
  await page.getByLabel('Message').fill('It has been a week.');
  await page.getByRole('button', { name: 'Send' }).click();
  const reference = await page.locator('main strong').textContent();
  assert.match(reference, /^SUP-/);
  const ack = await eventually('the acknowledgement mail', async () => {
    const found = (await mailsTo(email)).filter((mail) => (mail.body?.text || '').includes(reference));
    return found.length ? found : null;
  });
  assert.ok(ack.length >= 1);
  // A form posted without the session's CSRF token changes nothing.
  const forged = await fetch(`${STOREFRONT}/contact`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, subject: 'x', body: 'y' }),
  });
  assert.equal(forged.status, 403);
  await context.close();
});
