// The merchant's console in a real browser (Debian's chromium, driven by playwright-core), against
// the stack `make test` started: SHOP_CONSOLE_URL, SHOP_STAFF_EMAIL and SHOP_STAFF_PASSWORD (the
// first owner, made in moto's Cognito pool), SHOP_STOREFRONT_URL, SHOP_API_URL and
// SHOP_ADMIN_TOKEN come from it. Run by `make test` through `node --test tests/browser/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE, STAFF_EMAIL, STAFF_PASSWORD, admin, paidOrder, unique, useBrowser } from './support.mjs';

const visitor = useBrowser();

async function signInVia(page, password = STAFF_PASSWORD) {
  await page.goto(`${CONSOLE}/orders`);
  await page.waitForURL(`${CONSOLE}/sign-in`);
  await page.getByLabel('Email').fill(STAFF_EMAIL);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('the owner signs in, finds a paid order under Orders, ships it with a tracking number and marks it delivered', async () => {
  const { orderUrl, orderId } = await paidOrder(visitor);
  const { context, page } = await visitor();

  await signInVia(page, 'not-the-password');
  assert.match(await page.locator('main').textContent(), /The email or password is wrong/);

  await signInVia(page);
  await page.waitForURL(`${CONSOLE}/today`);
  const cookies = await context.cookies(CONSOLE);
  const session = cookies.find((c) => c.name === 'console_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  await page.getByRole('link', { name: 'Orders', exact: true }).click();
  assert.match(await page.locator('main h2').textContent(), /To pack/);

  await page.getByRole('link', { name: orderId, exact: true }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  assert.match(await page.title(), new RegExp(`^Order ${orderId} · `), 'the title is the order, nothing more');
  const main = page.locator('main');
  assert.match(await main.textContent(), /Organic Linen Tea Towels/);
  assert.match(await main.textContent(), /Ada <b>Lovelace<\/b>/, 'the name as text, escaped');
  assert.match(await main.textContent(), /Packing started/);
  assert.ok(await page.getByRole('link', { name: 'Orders', exact: true }).isVisible());
  const slip = await context.request.get(`${CONSOLE}/orders/${orderId}/packing-slip`);
  assert.equal(slip.status(), 200);
  assert.match(await slip.text(), /Organic Linen Tea Towels/);

  const tracking = unique('1Z').toUpperCase().replace(/-/g, '');
  await page.getByLabel('Carrier').fill('UPS');
  await page.getByLabel('Tracking number').fill(tracking);
  await page.getByRole('button', { name: 'Ship' }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  assert.match(await page.locator('.notice').textContent(), new RegExp(`Shipped with UPS ${tracking}`));
  assert.equal(await page.locator('[data-status]').getAttribute('data-status'), 'shipped');
  assert.match(await main.textContent(), new RegExp(tracking));

  const shopper = await visitor();
  await shopper.page.goto(orderUrl);
  assert.match(await shopper.page.locator('.status').textContent(), /Shipped/);

  // A form without the CSRF token changes nothing.
  const unsigned = await context.request.post(`${CONSOLE}/orders/${orderId}/delivered`, { form: { nothing: 'here' } });
  assert.equal(unsigned.status(), 403);
  assert.equal((await admin('GET', `/admin/orders/${orderId}`)).status, 'shipped');

  await page.getByRole('button', { name: 'Mark delivered' }).click();
  await page.waitForURL(`${CONSOLE}/orders/${orderId}`);
  assert.equal(await page.locator('[data-status]').getAttribute('data-status'), 'delivered');
  assert.equal((await admin('GET', `/admin/orders/${orderId}`)).status, 'delivered');

  // Signed out, the session's pages are the sign-in page again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${CONSOLE}/sign-in`);
  await page.goto(`${CONSOLE}/orders/${orderId}`);
  await page.waitForURL(`${CONSOLE}/sign-in`);
  await shopper.context.close();
  await context.close();
});

test('a forged session cookie gets the sign-in page and ships nothing', async () => {
  const { orderId } = await paidOrder(visitor);
  const { context, page } = await visitor();
  // A token of the pool's shape, claiming the owner group, signed by nobody the pool knows.
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const forged = [
    part({ alg: 'RS256', kid: 'dummy', typ: 'JWT' }),
    part({ 'cognito:groups': ['owner'], email: 'mallory@example.com', token_use: 'id', exp: now + 3600, iat: now }),
    Buffer.from('not a signature').toString('base64url'),
  ].join('.');
  // The sign-in page gives a session id and its CSRF token; the forged token comes beside them.
  await page.goto(`${CONSOLE}/sign-in`);
  const csrf = await page.locator('input[name=csrf]').getAttribute('value');
  await context.addCookies([{ name: 'console_session', value: forged, url: CONSOLE }]);

  await page.goto(`${CONSOLE}/orders/${orderId}`);
  await page.waitForURL(`${CONSOLE}/sign-in`);
  assert.ok(await page.getByRole('button', { name: 'Sign in' }).isVisible());

  await context.addCookies([{ name: 'console_session', value: forged, url: CONSOLE }]);
  const shipped = await context.request.post(`${CONSOLE}/orders/${orderId}/ship`, {
    form: { csrf, carrier: 'UPS', tracking_number: 'FORGED1' },
  });
  assert.equal(shipped.status(), 401);
  assert.match(await shipped.text(), /Sign in/);
  const order = await admin('GET', `/admin/orders/${orderId}`);
  assert.equal(order.status, 'fulfilling');
  assert.equal((order.shipments || []).length, 0);
  await context.close();
});
