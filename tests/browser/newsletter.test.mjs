// The newsletter in a real browser with JavaScript off (Debian's chromium, driven by
// playwright-core), against the stack `make test` started (SHOP_STOREFRONT_URL, SHOP_API_URL,
// SHOP_ADMIN_TOKEN and SHOP_SES_INBOX_URL come from it): a sign-up on the storefront, the
// double opt-in mail's link, a campaign's unsubscribe link and its button, each page in the
// storefront's layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API, STOREFRONT, admin, eventually, mailsTo, unique, useBrowser } from './support.mjs';

const visitor = useBrowser();
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The first mail to `address` whose subject contains `subject`, once it arrived. */
async function mailTo(address, subject) {
  return eventually(`the mail "${subject}" to ${address}`, async () => {
    return (await mailsTo(address)).find((mail) => (mail.subject || '').includes(subject));
  });
}

/** The mail's header `name` (the inbox keeps them as `[{name, value}]`). */
const header = (mail, name) => (mail.headers || []).find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;

/** Asserts the page is in the storefront's layout: its header with the shop's search. */
async function assertStorefrontLayout(page) {
  await page.locator('header.top').waitFor();
  assert.equal(await page.getByLabel('Search the shop').count(), 1, 'the storefront header has its search');
  assert.equal(await page.getByRole('link', { name: 'Cart' }).count(), 1);
}

test('a shopper subscribes on the storefront, confirms from the mail and unsubscribes from a campaign mail', async () => {
  const { context, page } = await visitor({ javaScript: false });
  const email = `${unique('reader')}@example.com`;

  // An address the shop refuses is shown again with the reason, and nothing is queued.
  await page.goto(`${STOREFRONT}/newsletter`);
  await page.getByLabel('Email', { exact: true }).fill('ada@localhost');
  await page.getByRole('button', { name: 'Subscribe' }).click();
  await page.locator('h1', { hasText: 'Newsletter' }).waitFor();
  assert.equal(await page.getByLabel('Email', { exact: true }).inputValue(), 'ada@localhost', 'what was typed stays');
  assert.match(await page.locator('.field.invalid .error').textContent(), /is not an email address/);
  assert.match(await page.locator('.notice').textContent(), /nothing was sent/);

  // The sign-up on the home page: a redirect, and the flash says to look in the inbox.
  await page.goto(`${STOREFRONT}/`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Subscribe' }).click();
  await page.waitForURL(`${STOREFRONT}/newsletter`);
  assert.match(await page.locator('main').textContent(), /Check your inbox/);

  // The opt-in mail links to the storefront's confirm page; following it records the consent.
  const optIn = await mailTo(email, 'Please confirm your subscription');
  const confirmLink = (optIn.body?.text || '').match(
    new RegExp(`${escape(STOREFRONT)}/subscribers/confirm\\?token=[A-Za-z0-9_-]+`),
  );
  assert.ok(confirmLink, `the opt-in mail links to the storefront: ${optIn.body?.text}`);
  const confirmed = await page.goto(confirmLink[0]);
  assert.equal(confirmed.status(), 200);
  assert.equal(await page.locator('h1').textContent(), 'You are subscribed');
  assert.match(await page.locator('main').textContent(), new RegExp(escape(email)));
  await assertStorefrontLayout(page);
  assert.match(await page.title(), /You are subscribed · /);

  // A link that was never sent is a readable page with its status, in the same layout.
  const unknown = await page.goto(`${STOREFRONT}/subscribers/confirm?token=${'A'.repeat(43)}`);
  assert.equal(unknown.status(), 404);
  assert.equal(await page.locator('h1').textContent(), 'This link does not work');
  await assertStorefrontLayout(page);

  // A campaign to the storefront's sign-ups reaches the new subscriber, with an unsubscribe
  // link to the storefront's page and a one-click List-Unsubscribe at the API.
  const subject = unique('Storefront news');
  const campaign = await admin('POST', '/admin/campaigns', {
    name: subject,
    subject,
    html: '<p>Hello {{email}}</p>',
    text: 'Hello {{email}}',
    audience: { source: 'storefront' },
  });
  await admin('POST', `/admin/campaigns/${campaign.campaign_id}/send`, {});
  const news = await mailTo(email, subject);
  const unsubscribeLink = (news.body?.text || '').match(
    new RegExp(`${escape(STOREFRONT)}/unsubscribe\\?token=[A-Za-z0-9_-]+`),
  );
  assert.ok(unsubscribeLink, `the campaign links to the storefront's unsubscribe page: ${news.body?.text}`);
  const token = new URL(unsubscribeLink[0]).searchParams.get('token');
  assert.equal(header(news, 'List-Unsubscribe'), `<${API}/unsubscribe?token=${token}>`);

  // The link opens a page with a button: opening it unsubscribes nobody; the button does.
  const asked = await page.goto(unsubscribeLink[0]);
  assert.equal(asked.status(), 200);
  assert.equal(await page.locator('h1').textContent(), 'Unsubscribe');
  assert.match(await page.locator('main').textContent(), new RegExp(escape(email)));
  await assertStorefrontLayout(page);
  await page.getByRole('button', { name: 'Unsubscribe', exact: true }).click();
  await page.locator('h1', { hasText: 'You are unsubscribed' }).waitFor();
  assert.match(await page.locator('main').textContent(), new RegExp(`${escape(email)} gets no more news`));
  await assertStorefrontLayout(page);

  // The next campaign to the same audience leaves the address out.
  const later = unique('Storefront later');
  const next = await admin('POST', '/admin/campaigns', {
    name: later, subject: later, html: '<p>Hi</p>', text: 'Hi', audience: { source: 'storefront' },
  });
  await admin('POST', `/admin/campaigns/${next.campaign_id}/send`, {});
  const done = await eventually('the later campaign to be sent', async () => {
    const state = await admin('GET', `/admin/campaigns/${next.campaign_id}`);
    return state.status === 'sent' ? state : null;
  });
  assert.ok(done.suppressed >= 1, JSON.stringify(done));
  assert.ok(!(await mailsTo(email)).some((mail) => mail.subject === later), 'no mail after unsubscribing');
  await context.close();
});

test('the newsletter form refuses a post without the session\'s CSRF token', async () => {
  const response = await fetch(`${STOREFRONT}/newsletter`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email: `${unique('forged')}@example.com` }),
    redirect: 'manual',
  });
  assert.equal(response.status, 403);
});
