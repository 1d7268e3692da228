// The console's order desk in a real browser, as the owner runs it: a paid order found under
// "To pack", shipped in two parts with a tracking number each and marked delivered (each step on
// the shopper's order page and mailed once), found again by the customer's email and by its id,
// refunded in part (on the order, and at the local Stripe server), and exported for the
// accountant; and a disputed order on Today's alerts until its page's "Mark reviewed". Run by
// `make test` through
// `node --test tests/browser/`, against the stack it started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE, addToCart, admin, checkOut, eventually, mailsTo, need, paidOrder, signIn, unique, useBrowser } from './support.mjs';

const visitor = useBrowser();
const STRIPE = need('STRIPE_API_BASE');

/** The mails to `email` whose subject matches `pattern`. */
async function mailsAbout(email, pattern) {
  return (await mailsTo(email)).filter((mail) => pattern.test(mail.subject || ''));
}

/** The shopper's order page's text, read afresh. */
async function shopperSees(shopper, orderUrl) {
  await shopper.goto(orderUrl);
  return shopper.locator('main').textContent();
}

test('the owner ships a paid order in two parts, marks it delivered, finds it by email and refunds part of it', async () => {
  const { orderUrl, orderId, email } = await paidOrder(visitor, 2);
  const { context, page } = await visitor();
  const shopper = await visitor();
  await signIn(page);

  await page.goto(`${CONSOLE}/orders`);
  assert.match(await page.locator('main h2').textContent(), /To pack/);
  await page.getByRole('link', { name: orderId, exact: true }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  const main = page.locator('main');

  // First part: one of the two towels.
  const units = page.locator('input[name^="units["]');
  assert.equal(await units.count(), 1, 'one line to ship');
  assert.equal(await units.inputValue(), '2', 'all that is left, unless changed');
  const first = unique('1Z').toUpperCase().replace(/-/g, '');
  await units.fill('1');
  await page.getByLabel('Carrier').fill('UPS');
  await page.getByLabel('Tracking number').fill(first);
  await page.getByRole('button', { name: 'Ship', exact: true }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  assert.match(await page.locator('.notice').textContent(), new RegExp(`Shipped with UPS ${first}`));
  assert.equal(await page.locator('[data-status]').getAttribute('data-status'), 'fulfilling', 'one unit is still to ship');
  let seen = await shopperSees(shopper.page, orderUrl);
  assert.match(seen, new RegExp(first));
  assert.match(seen, /Being packed/);
  await eventually('the first Shipped mail', async () => (await mailsAbout(email, /shipped/)).length === 1);

  // Second part: the other towel, with its own tracking number.
  assert.equal(await units.inputValue(), '1', 'one unit left');
  const second = unique('1Z').toUpperCase().replace(/-/g, '');
  await page.getByLabel('Carrier').fill('UPS');
  await page.getByLabel('Tracking number').fill(second);
  await page.getByRole('button', { name: 'Ship', exact: true }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  assert.equal(await page.locator('[data-status]').getAttribute('data-status'), 'shipped');
  assert.equal(await page.getByRole('button', { name: 'Ship', exact: true }).count(), 0, 'nothing left to ship');
  seen = await shopperSees(shopper.page, orderUrl);
  assert.match(seen, new RegExp(first));
  assert.match(seen, new RegExp(second));
  assert.match(await shopper.page.locator('.status').textContent(), /Shipped/);
  await eventually('the second Shipped mail', async () => (await mailsAbout(email, /shipped/)).length === 2);

  await page.getByRole('button', { name: 'Mark delivered' }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  assert.equal(await page.locator('[data-status]').getAttribute('data-status'), 'delivered');
  await shopper.page.goto(orderUrl);
  assert.match(await shopper.page.locator('.status').textContent(), /Delivered/);
  await eventually('the Delivered mail', async () => (await mailsAbout(email, /was delivered/)).length === 1);
  const shipped = await mailsAbout(email, /shipped/);
  assert.equal(shipped.length, 2, 'one Shipped mail per shipment');
  assert.ok(shipped.some((mail) => mail.subject.includes(first)) && shipped.some((mail) => mail.subject.includes(second)));

  // The order's page lists the mails sent about it.
  await eventually('the mails on the order page', async () => {
    await page.reload();
    return (await page.locator('tr[data-mail="shipped"]').count()) === 2
      && (await page.locator('tr[data-mail="delivered"]').count()) === 1;
  });

  // Search by the customer's email finds the order; by its id opens it.
  await page.goto(`${CONSOLE}/orders`);
  await page.getByLabel('Search orders').fill(email);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  assert.match(await main.locator('h2').textContent(), new RegExp(`Orders of ${email}`));
  assert.ok(await page.getByRole('link', { name: orderId, exact: true }).isVisible());
  await page.getByLabel('Search orders').fill(orderId);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);

  // A refund of part of it, for a reason.
  await page.getByLabel('Amount to refund').fill('5.00');
  await page.getByLabel('Reason').fill('One towel arrived <b>stained</b>');
  await page.getByRole('button', { name: 'Refund', exact: true }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  assert.match(await page.locator('.notice').textContent(), /Refunded \$5\.00 \(the order is partially refunded\)/);
  assert.equal(await page.locator('[data-refunded]').getAttribute('data-refunded'), '500');
  assert.match(await main.textContent(), /One towel arrived <b>stained<\/b>/, 'the reason as text, escaped');
  const view = await admin('GET', `/admin/orders/${orderId}`);
  assert.equal(view.status, 'partially_refunded');
  assert.equal(view.merchant_refunds.length, 1);
  assert.equal(view.merchant_refunds[0].amount.amount, 500);
  const atStripe = await (await fetch(`${STRIPE}/v1/refunds/${view.merchant_refunds[0].refund_id}`, {
    headers: { authorization: 'Bearer sk_test_console' },
  })).json();
  assert.equal(atStripe.amount, 500);
  assert.equal(atStripe.payment_intent, view.payment_intent_id);
  await eventually('the refund on the shopper\'s page', async () => /Partly refunded/.test(await shopperSees(shopper.page, orderUrl)));
  await eventually('the Refunded mail', async () => (await mailsAbout(email, /a refund for order/)).length === 1);

  // The accountant's export of the day it was placed holds it, with its refund.
  const day = view.created_at.slice(0, 10);
  await page.goto(`${CONSOLE}/orders`);
  await page.getByLabel('From').fill(day);
  await page.getByLabel('To', { exact: true }).fill(day);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export orders' }).click(),
  ]);
  const csv = await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString('utf8'));
  assert.match(csv.split('\n')[0], /^order_id,placed_at,status,email,subtotal,discount,shipping,tax,total,refunded,currency/);
  const row = csv.split('\n').find((line) => line.startsWith(`${orderId},`));
  assert.ok(row, `the order in the export: ${csv}`);
  assert.match(row, new RegExp(`,partially_refunded,${email.replace(/[.+]/g, '\\$&')},.*,5\\.00,usd`));

  await shopper.context.close();
  await context.close();
});

test('a disputed order is on Today\'s alerts until someone marks it reviewed on its page', async () => {
  // Bought on the storefront, paid with Stripe's test card for disputes: paid, then disputed.
  const shopper = await visitor();
  await addToCart(shopper.page, 'organic-linen-tea-towels', 'Colour: Striped — $24.00', 1);
  const orderUrl = await checkOut(shopper.page, `${unique('disputed')}@example.com`);
  await shopper.context.close();
  const orderId = new URL(orderUrl).pathname.split('/').pop();
  const intent = (await admin('GET', `/admin/orders/${orderId}`)).payment_intent_id;
  const confirmed = await fetch(`${STRIPE}/v1/payment_intents/${intent}/confirm`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk_test_console', 'content-type': 'application/x-www-form-urlencoded' },
    body: 'payment_method=pm_card_createDispute',
  });
  assert.equal(confirmed.status, 200);
  await eventually('the dispute to flag the order', async () => (await admin('GET', `/admin/orders/${orderId}`)).awaiting_review);

  const { context, page } = await visitor();
  await signIn(page);
  await page.goto(`${CONSOLE}/today`);
  const alert = page.locator('[data-alert="review"]');
  assert.match(await alert.textContent(), /to review/);
  assert.match(await alert.textContent(), /dispute dp_/);
  await alert.getByRole('link', { name: orderId, exact: true }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  assert.match(await page.locator('.review').textContent(), /Needs review[\s\S]*dispute dp_\S+ needs_response: fraudulent/);
  assert.match(await page.locator('main').textContent(), /Flagged for review: dispute dp_/, 'the flag on the timeline');

  await page.getByRole('button', { name: 'Mark reviewed' }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  assert.match(await page.locator('.notice').textContent(), /Marked reviewed\./);
  assert.equal(await page.getByRole('button', { name: 'Mark reviewed' }).count(), 0);
  assert.match(await page.locator('.review').textContent(), /Reviewed[\s\S]*dispute dp_/, 'the reason stays');
  assert.match(await page.locator('main').textContent(), /Marked reviewed by /, 'the mark on the timeline');

  await page.goto(`${CONSOLE}/today`);
  assert.equal(await page.getByRole('link', { name: orderId, exact: true }).count(), 0, 'off Today\'s alerts');
  await page.goto(`${CONSOLE}/audit`);
  const entry = page.locator('tr', { hasText: `order ${orderId}` });
  assert.match(await entry.textContent(), /marked reviewed[\s\S]*to review[\s\S]*reviewed/, 'in the audit log');
  await context.close();
});
