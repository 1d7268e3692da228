// Takes the README's screenshots of the console (Today, an order being shipped, the catalog,
// Settings) from a running stack, after buying one order on its storefront:
// `node tests/browser/console-screenshots.mjs [out dir]` with the addresses `make dev` prints in
// SHOP_STOREFRONT_URL, SHOP_CONSOLE_URL, SHOP_STAFF_EMAIL, SHOP_STAFF_PASSWORD (and the rest of
// what support.mjs reads). Not a test file: `node --test` runs only `*.test.mjs`.
import { chromium } from 'playwright-core';
import { addToCart, checkOut, pay, packing, signIn, CONSOLE } from './support.mjs';

const out = process.argv[2] || 'docs/screenshots';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fresh = async () => (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();

const shopper = await fresh();
await addToCart(shopper, 'organic-linen-tea-towels', 'Colour: Striped — $24.00', 2);
const orderUrl = await checkOut(shopper, 'ada@example.com', 'Ada Lovelace');
await pay(shopper, '4242 4242 4242 4242');
const orderId = new URL(orderUrl).pathname.split('/').pop();
await packing(orderId);

const page = await fresh();
const shot = (name) => page.screenshot({ path: `${out}/${name}.png`, fullPage: false });
await signIn(page);
await page.goto(`${CONSOLE}/today`);
await shot('console-today');
await page.goto(`${CONSOLE}/orders/${orderId}`);
await page.screenshot({ path: `${out}/console-order.png`, fullPage: true, clip: { x: 0, y: 0, width: 1100, height: 1500 } });
await page.goto(`${CONSOLE}/catalog`);
await shot('console-catalog');
await page.goto(`${CONSOLE}/settings`);
await shot('console-settings');
await browser.close();
