// Takes the README's screenshots of the storefront (home, product, cart, order) from a running
// `make dev`: `node tests/browser/screenshots.mjs [storefront URL] [out dir]`.
import { chromium } from 'playwright-core';

const base = (process.argv[2] || 'http://127.0.0.1:3001').replace(/\/$/, '');
const out = process.argv[3] || 'docs/screenshots';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
const shot = (name) => page.screenshot({ path: `${out}/${name}.png`, fullPage: false });
await page.goto(`${base}/`);
await shot('home');
await page.goto(`${base}/products/merino-crew-sweater`);
await shot('product');
await page.getByLabel('Choose').selectOption({ index: 1 });
await page.getByRole('button', { name: 'Add to cart' }).click();
await page.goto(`${base}/products/hand-poured-soy-wax-candle`);
await page.getByRole('button', { name: 'Add to cart' }).click();
await page.waitForURL(`${base}/cart`);
await shot('cart');
await page.goto(`${base}/checkout`);
await page.getByLabel('Email', { exact: true }).fill('ada@example.com');
for (const [label, value] of [['Name', 'Ada Lovelace'], ['Address', '1 Main Street'], ['City', 'Springfield'],
  ['Region', 'IL'], ['Postal code', '62701']]) {
  await page.getByLabel(label, { exact: true }).first().fill(value);
}
await page.getByRole('button', { name: 'Continue to payment' }).click();
await page.waitForURL(/\/orders\//);
await page.getByLabel('Card number').waitFor();
await shot('order');
await browser.close();
