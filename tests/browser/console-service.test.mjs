// The console's customer service in a real browser, against the stack `make test` started: a
// return received with restock (the refund at the local Stripe server, the unit back in stock,
// the refund on the shopper's order page) and the support inbox (a message from the storefront's
// contact form answered in the console: one reply mail with its words, the reply on the thread,
// out of the unanswered list once marked answered; an order's facts only when its token came).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API, CONSOLE, STOREFRONT, admin, eventually, mailsTo, need, paidOrder, signIn, unique, useBrowser,
} from './support.mjs';

const visitor = useBrowser();

/** The audit log's row on `subject` for `action`, as the console's audit page shows it. */
async function audited(page, action, subject) {
  await page.goto(`${CONSOLE}/audit`);
  const row = page.locator('table.audit tbody tr', { hasText: subject }).filter({ hasText: action });
  assert.equal(await row.count(), 1, `one "${action}" entry on ${subject}`);
  return row.textContent();
}
const STRIPE = need('STRIPE_API_BASE');

/** Units of `sku` in stock, as the shop's product page answers them. */
async function available(slug, sku) {
  const product = await (await fetch(`${API}/products/${slug}`)).json();
  return product.variants.find((v) => v.sku === sku).available;
}

/** A refund as the local Stripe server has it. */
async function stripeRefund(id) {
  const response = await fetch(`${STRIPE}/v1/refunds/${id}`, { headers: { authorization: 'Bearer sk_test_browser' } });
  assert.equal(response.status, 200, `refund ${id} at Stripe`);
  return response.json();
}

test('a delivered order returned by the shopper is received with restock: refunded at Stripe, back in stock, shown to the shopper', async () => {
  const { orderUrl, orderId } = await paidOrder(visitor);
  await admin('POST', `/admin/orders/${orderId}/shipments`, { carrier: 'UPS', tracking_number: unique('1Z').toUpperCase() });
  await admin('POST', `/admin/orders/${orderId}/delivered`);

  const shopper = await visitor();
  await shopper.page.goto(orderUrl);
  await shopper.page.getByLabel('Units of Organic Linen Tea Towels (Set of 3) to return').fill('1');
  await shopper.page.getByLabel('Reason', { exact: true }).fill('One set is <enough>');
  await shopper.page.getByRole('button', { name: 'Request a return' }).click();
  await shopper.page.waitForURL(orderUrl);
  assert.match(await shopper.page.locator('.status').textContent(), /Return requested/);

  const asked = await admin('GET', `/admin/orders/${orderId}`);
  const [ret] = asked.returns;
  const sku = ret.lines[0].sku;
  const refund = ret.refund.amount;
  assert.ok(refund > 0, JSON.stringify(ret));
  const shown = `$${(refund / 100).toFixed(2)}`;
  const before = await available('organic-linen-tea-towels', sku);

  const { context, page } = await visitor();
  await signIn(page);
  await page.getByRole('link', { name: 'Returns', exact: true }).click();
  const row = page.locator(`tr[data-return="${ret.return_id}"]`);
  const text = await row.textContent();
  assert.match(text, new RegExp(orderId));
  assert.match(text, /One set is <enough>/, 'the reason as text, escaped');
  assert.ok(text.includes(shown) && text.includes(`1 × ${sku}`), text);
  assert.ok(await row.getByRole('link', { name: orderId }).isVisible(), 'linked to its order');
  await row.getByRole('button', { name: 'Receive and restock' }).click();
  await page.waitForURL(`${CONSOLE}/returns`);
  const notice = await page.locator('.notice').textContent();
  assert.match(notice, new RegExp(`Return ${ret.return_id} received: \\${shown} refunded through Stripe \\(re_\\w+\\); put back in stock: 1 × ${sku}`));
  assert.equal(await page.locator(`tr[data-return="${ret.return_id}"]`).count(), 0, 'no longer waiting');

  const refundId = notice.match(/\((re_\w+)\)/)[1];
  const atStripe = await stripeRefund(refundId);
  assert.equal(atStripe.amount, refund);
  assert.equal(atStripe.payment_intent, asked.payment_intent_id);
  assert.equal(atStripe.status, 'succeeded');
  assert.equal(await available('organic-linen-tea-towels', sku), before + 1, 'the unit is back in stock');

  await page.getByRole('link', { name: 'Received', exact: true }).click();
  assert.match(await page.locator(`tr[data-return="${ret.return_id}"]`).textContent(), new RegExp(`restocked; refund ${refundId}`));

  const entry = await audited(page, 'received return', `return ${ret.return_id} of order ${orderId}`);
  assert.ok(entry.includes('requested') && entry.includes(refundId), entry);

  await eventually('the refund on the shopper\'s order page', async () => {
    await shopper.page.goto(orderUrl);
    const refunds = await shopper.page.locator('#refund-h').count() ? await shopper.page.locator('main').textContent() : '';
    return refunds.includes(`${shown}: succeeded`);
  });
  await shopper.context.close();
  await context.close();
});

test('a message from the contact form is answered in the console: one reply mail, the reply on the thread, out of the unanswered list', async () => {
  const shopper = await visitor();
  const email = `${unique('inbox')}@example.com`;
  await shopper.page.goto(`${STOREFRONT}/contact`);
  await shopper.page.getByLabel('Email', { exact: true }).fill(email);
  await shopper.page.getByLabel('Subject').fill('A <b>chipped</b> mug');
  await shopper.page.getByLabel('Message').fill('The mug arrived chipped.\nCan you help?');
  await shopper.page.getByRole('button', { name: 'Send' }).click();
  const reference = await shopper.page.locator('main strong').textContent();
  assert.match(reference, /^SUP-/);
  await shopper.context.close();

  const { context, page } = await visitor();
  await signIn(page);
  await page.getByRole('link', { name: 'Support', exact: true }).click();
  assert.match(await page.locator('main h2').textContent(), /Unanswered/);
  const row = page.locator(`tr[data-reference="${reference}"]`);
  assert.match(await row.textContent(), /A <b>chipped<\/b> mug/, 'the subject as text, escaped');
  await row.getByRole('link', { name: reference }).click();
  await page.waitForURL(`${CONSOLE}/support/${reference}`);
  const main = page.locator('main');
  assert.match(await main.textContent(), /The mug arrived chipped\.\nCan you help\?/);
  assert.match(await main.textContent(), /No order was named/);

  const words = `A new mug leaves today (${unique('reply')}).`;
  await page.getByLabel('Reply').fill(words);
  await page.getByRole('button', { name: 'Send reply' }).click();
  await page.waitForURL(`${CONSOLE}/support/${reference}`);
  assert.match(await page.locator('.notice').textContent(), /Reply sent/);
  assert.match(await page.locator('li[data-reply]').textContent(), new RegExp(words.replace(/[().]/g, '\\$&')));

  const replies = await eventually('the reply mail', async () => {
    const found = (await mailsTo(email)).filter((mail) => /a reply to your message/.test(mail.subject));
    return found.length ? found : null;
  });
  assert.equal(replies.length, 1, 'one mail per reply');
  assert.ok(replies[0].subject.includes(reference), replies[0].subject);
  assert.ok(replies[0].body.text.includes(words), replies[0].body.text);

  await page.getByRole('button', { name: 'Mark answered' }).click();
  await page.waitForURL(`${CONSOLE}/support/${reference}`);
  assert.match(await page.locator('.notice').textContent(), /Marked answered/);
  assert.equal(await page.locator('[data-state]').getAttribute('data-state'), 'answered');
  assert.equal(await page.getByRole('button', { name: 'Mark answered' }).count(), 0);
  await page.goto(`${CONSOLE}/support`);
  assert.equal(await page.locator(`tr[data-reference="${reference}"]`).count(), 0, 'out of the unanswered list');
  await page.goto(`${CONSOLE}/support?state=all`);
  assert.match(await page.locator(`tr[data-reference="${reference}"]`).textContent(), /Answered · 1 reply/);
  assert.equal((await mailsTo(email)).filter((mail) => /a reply to your message/.test(mail.subject)).length, 1);
  assert.ok((await audited(page, 'replied to support message', `support message ${reference}`)).includes(words));
  assert.match(await audited(page, 'marked answered', `support message ${reference}`), /unanswered.*answered/s);
  await context.close();
});

test('a message shows its order\'s facts only when the order\'s token came with it', async () => {
  const { orderUrl, orderId, email } = await paidOrder(visitor, 1);
  const token = new URL(orderUrl).searchParams.get('token');
  const write = async (body) => {
    const response = await fetch(`${API}/support/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    assert.equal(response.status, 201);
    return (await response.json()).reference;
  };
  const verified = await write({ email, order_id: orderId, order_token: token, subject: 'Gift wrap?', body: 'Please wrap it.' });
  const unverified = await write({ email: `${unique('other')}@example.com`, order_id: orderId, subject: 'My order', body: 'What is in it?' });

  const { context, page } = await visitor();
  await signIn(page);
  await page.goto(`${CONSOLE}/support/${verified}`);
  const facts = page.locator('section[aria-labelledby="order-heading"]');
  assert.match(await facts.textContent(), /Verified: the customer's order token came with the message/);
  assert.match(await facts.textContent(), /Organic Linen Tea Towels/);
  assert.equal(await facts.locator('[data-order-status]').getAttribute('data-order-status'), 'fulfilling');
  assert.ok(await facts.getByRole('link', { name: orderId }).isVisible());

  await page.goto(`${CONSOLE}/support/${unverified}`);
  assert.equal(await page.locator('section[aria-labelledby="order-heading"]').count(), 0);
  assert.equal(await page.locator('[data-unverified-order]').getAttribute('data-unverified-order'), orderId);
  assert.doesNotMatch(await page.locator('main').textContent(), /Organic Linen Tea Towels/);
  await context.close();
});
