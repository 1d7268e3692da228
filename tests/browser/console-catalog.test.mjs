// The console's catalog desk in a browser: a product's price and stock edited and seen on the
// storefront; a catalog file with one bad row refused whole (nothing written, the row named)
// and then imported once fixed; the export as a download holding the catalog; a discount code
// created and ended. Every id is unique, so the suite runs again on the same stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { useBrowser, signIn, admin, adminStatus, eventually, unique, CONSOLE, STOREFRONT } from './support.mjs';

const visitor = useBrowser();

/** A product of the demo's shape with one variant at $25.00, 5 in stock. */
function product(id, sku) {
  return {
    id, slug: id, title: `Catalog Test ${id}`, description: 'Made for the catalog test.', category: 'home',
    tags: [], images: [], attributes: {},
    variants: [{ sku, options: { size: 'M' }, price: { amount: 2500, currency: 'usd' }, available: 5 }],
  };
}

test('the owner edits a price and a stock count and the storefront shows the new price', async () => {
  const id = unique('priced');
  const sku = unique('PRICED').toUpperCase();
  await admin('PUT', `/admin/products/${id}`, product(id, sku));
  const { context, page } = await visitor();
  await signIn(page);
  await page.goto(`${CONSOLE}/catalog/${id}`);
  await page.getByLabel(`Price of ${sku}`).fill('31.50');
  await page.getByLabel(`Stock of ${sku}`).fill('7');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(`${CONSOLE}/catalog/${id}`);
  await page.getByText('Saved.').waitFor();
  assert.equal(await page.getByLabel(`Price of ${sku}`).inputValue(), '31.50');

  const saved = await admin('GET', `/admin/products/${id}`);
  assert.deepEqual(saved.variants[0].price, { amount: 3150, currency: 'usd' });
  assert.equal(saved.variants[0].available, 7);
  const shop = await context.newPage();
  await eventually('the storefront to show $31.50', async () => {
    await shop.goto(`${STOREFRONT}/products/${id}`);
    return (await shop.locator('.price').textContent()).includes('$31.50');
  });

  // A price that is not one is refused beside its field, what was typed kept, nothing saved.
  await page.getByLabel(`Price of ${sku}`).fill('cheap');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('is not an amount in usd').waitFor();
  assert.equal(await page.getByLabel(`Price of ${sku}`).inputValue(), 'cheap');
  assert.equal((await admin('GET', `/admin/products/${id}`)).variants[0].price.amount, 3150);

  // Archived, it leaves the storefront and stays in the console.
  await page.goto(`${CONSOLE}/catalog/${id}`);
  await page.getByLabel('Status').selectOption('archived');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved.').waitFor();
  await eventually('the archived product to leave the storefront', async () => {
    const response = await shop.goto(`${STOREFRONT}/products/${id}`);
    return response.status() === 404;
  });
  await context.close();
});

test('a catalog file with one bad row writes nothing and names the row; fixed, it imports', async () => {
  const [first, second] = [unique('csv'), unique('csv')];
  const header = 'product_id,title,category,sku,options,price,stock';
  const rows = (badPrice) => [
    header,
    `${first},CSV Lamp,home,${first.toUpperCase()}-S,size=S,19.00,4`,
    `${first},,,${first.toUpperCase()}-L,size=L,${badPrice},2`,
    `${second},CSV Rug,home,${second.toUpperCase()}-1,,45.50,9`,
  ].join('\n');

  const { context, page } = await visitor();
  await signIn(page);
  const upload = async (text) => {
    await page.goto(`${CONSOLE}/catalog/import`);
    await page.getByLabel('Catalog file (CSV)').setInputFiles({ name: 'catalog.csv', mimeType: 'text/csv', buffer: Buffer.from(text) });
    await page.getByRole('button', { name: 'Check and import' }).click();
  };
  await upload(rows('twenty'));
  await page.getByText('Nothing was imported from catalog.csv').waitFor();
  const refused = page.locator('table.import-errors tbody tr');
  assert.equal(await refused.count(), 1);
  assert.deepEqual(await refused.first().locator('td').allTextContents(), ['3', 'price', await refused.first().locator('td').nth(2).textContent()]);
  for (const id of [first, second]) {
    assert.equal(await adminStatus('GET', `/admin/products/${id}`), 404, `${id} was written`);
  }

  await upload(rows('21.00'));
  await page.waitForURL(`${CONSOLE}/catalog`);
  await page.getByText('Imported 2 products from catalog.csv').waitFor();
  const lamp = await admin('GET', `/admin/products/${first}`);
  assert.deepEqual(lamp.variants.map((v) => [v.sku, v.price.amount, v.available]), [
    [`${first.toUpperCase()}-S`, 1900, 4],
    [`${first.toUpperCase()}-L`, 2100, 2],
  ]);
  assert.equal((await admin('GET', `/admin/products/${second}`)).title, 'CSV Rug');

  // The export holds the demo catalog and what was just imported, in the same format.
  await page.goto(`${CONSOLE}/catalog`);
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export to CSV' }).click();
  const file = await readFile(await (await download).path(), 'utf8');
  const lines = file.split(/\r?\n/);
  assert.equal(lines[0], 'product_id,slug,title,description,category,status,tags,images,attributes,sku,options,price,stock');
  assert.ok(lines.some((line) => line.startsWith('merino-crew-sweater,')), 'a demo product is in the export');
  assert.ok(lines.some((line) => line.startsWith(`${first},${first},CSV Lamp,`) && line.endsWith(',size=L,21.00,2')), 'the imported variant is in the export');
  await context.close();
});

test('a discount code is created, listed with its redemptions, and ended now', async () => {
  const code = unique('SAVE').toUpperCase();
  const { context, page } = await visitor();
  await signIn(page);
  await page.goto(`${CONSOLE}/catalog/discounts/new`);
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByLabel('Takes off').selectOption('percent');
  await page.getByLabel('Percent or amount').fill('abc');
  await page.getByRole('button', { name: 'Save code' }).click();
  await page.getByText('is not a percentage').waitFor();
  assert.equal(await adminStatus('GET', `/admin/discounts/${code}`), 404);
  await page.getByLabel('Percent or amount').fill('15');
  await page.getByRole('button', { name: 'Save code' }).click();
  await page.waitForURL(`${CONSOLE}/catalog/discounts`);
  const row = page.locator(`tr[data-code="${code}"]`);
  assert.match(await row.textContent(), /15 % off/);
  assert.match(await row.locator('td').nth(2).textContent(), /^0$/);
  assert.equal((await admin('GET', `/admin/discounts/${code}`)).rule.value.percent_bp, 1500);

  await row.getByRole('button', { name: 'End now' }).click();
  await page.getByText(`The code ${code} has ended.`).waitFor();
  await row.getByText('Ended').waitFor();
  const ended = await admin('GET', `/admin/discounts/${code}`);
  assert.ok(Date.parse(ended.rule.ends_at) <= Date.now(), `the code ends now, not ${ended.rule.ends_at}`);
  await context.close();
});
