// What the browser tests share: the stack's addresses (`make test` exports them), Debian's
// chromium launched headless with a fresh profile and no network of its own, a fresh visitor per
// test, the admin API, polling with a deadline, the local inbox, and the shopper's way through
// the storefront (add to cart, check out, pay). Not a test file itself: `node --test` runs only
// the `*.test.mjs` files.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

/** The stack's variable `name`, without a trailing `/`. */
export const need = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests through make test`);
  return value.replace(/\/$/, '');
};

export const STOREFRONT = need('SHOP_STOREFRONT_URL');
export const API = need('SHOP_API_URL');
const ADMIN_TOKEN = need('SHOP_ADMIN_TOKEN');
const INBOX = need('SHOP_SES_INBOX_URL');
/** How long anything that happens through the queues may take. */
export const DEADLINE_MS = 30_000;

/** Launches the browser before the file's tests and closes it after them; answers a function
 * making a fresh visitor (their own cookies; JavaScript on unless said). */
export function useBrowser() {
  let browser;
  before(async () => {
    // Headless, and a fresh profile of its own: Playwright starts Chromium with a new temporary
    // --user-data-dir and removes it on close. Without the network flags Chromium stalls on a
    // closed network.
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
  });
  return async function visitor({ javaScript = true } = {}) {
    const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    return { context, page };
  };
}

export const unique = (prefix) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;

/** A call of the admin API with the stack's admin token; fails the test unless it is a 2xx. */
export async function admin(method, path, body) {
  const response = await fetch(`${API}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The status of a call of the admin API with the stack's admin token, whatever it is (for
 * tests that expect a refusal or a 404). */
export async function adminStatus(method, path) {
  const response = await fetch(`${API}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Polls `probe` until it answers something truthy, or fails at the deadline. */
export async function eventually(what, probe) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${DEADLINE_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Every mail the local SES holds for `address`. */
export async function mailsTo(address) {
  const store = await (await fetch(`${INBOX}/store`)).json();
  return (store.emails || []).filter((mail) => (mail.destination?.to || []).includes(address));
}

/** Adds the variant labelled `option` of the product at `slug`, `quantity` units. */
export async function addToCart(page, slug, option, quantity = 1) {
  await page.goto(`${STOREFRONT}/products/${slug}`);
  await page.getByLabel('Choose').selectOption({ label: option });
  await page.getByLabel('Quantity').fill(String(quantity));
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForURL(`${STOREFRONT}/cart`);
}

/** Fills the checkout form and sends it; answers the order page's URL. */
export async function checkOut(page, email, name = 'Ada Lovelace') {
  await page.goto(`${STOREFRONT}/checkout`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Name', { exact: true }).first().fill(name);
  await page.getByLabel('Address', { exact: true }).first().fill('1 Main Street');
  await page.getByLabel('City', { exact: true }).first().fill('Springfield');
  await page.getByLabel('Region', { exact: true }).first().fill('IL');
  await page.getByLabel('Postal code', { exact: true }).first().fill('62701');
  await page.getByRole('button', { name: 'Continue to payment' }).click();
  await page.waitForURL(/\/orders\/[^/?]+\?token=/);
  return page.url();
}

/** Pays on the order page with the test card `card`. */
export async function pay(page, card) {
  await page.getByLabel('Card number').fill(card);
  await page.getByLabel('Expiry').fill('12 / 34');
  await page.getByLabel('CVC').fill('123');
  await page.getByRole('button', { name: 'Pay' }).click();
}

/** Waits until the order `orderId` is being packed (paid, and the worker took it). */
export async function packing(orderId) {
  await eventually('packing to start', async () => {
    const order = await admin('GET', `/admin/orders/${orderId}`);
    return order.status === 'fulfilling';
  });
}

export const CONSOLE = need('SHOP_CONSOLE_URL');
export const STAFF_EMAIL = need('SHOP_STAFF_EMAIL');
export const STAFF_PASSWORD = process.env.SHOP_STAFF_PASSWORD || assert.fail('SHOP_STAFF_PASSWORD is not set');

/** Signs in to the console on `page` (the first owner unless said) and waits for the page it
 * lands on. */
export async function signIn(page, email = STAFF_EMAIL, password = STAFF_PASSWORD) {
  await page.goto(`${CONSOLE}/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/sign-in'));
}

/** A shopper's order bought on the storefront with `quantity` striped tea towels and paid with
 * the test card: its order page's URL (with the order's token), id and email, once packing
 * started. */
export async function paidOrder(visitor, quantity = 2) {
  const { context, page } = await visitor();
  await addToCart(page, 'organic-linen-tea-towels', 'Colour: Striped — $24.00', quantity);
  const email = `${unique('console')}@example.com`;
  const orderUrl = await checkOut(page, email, 'Ada <b>Lovelace</b>');
  await pay(page, '4242 4242 4242 4242');
  const orderId = new URL(orderUrl).pathname.split('/').pop();
  await packing(orderId);
  await context.close();
  return { orderUrl, orderId, email };
}
