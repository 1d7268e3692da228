// The console's "Add image" in a browser: a PNG picked on a product's page is resized in the
// page to 640 and 320 pixels wide, posted straight to the shop's bucket with the presigned forms
// the console signs (through the local stack's IAM proxy, which checks them as S3 does), then
// added to the product; the storefront serves both widths. A file that is not an image is
// refused in the page with words; an image is made the main one and removed. Every id is
// unique, so the suite runs again on the same stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { useBrowser, signIn, admin, eventually, unique, CONSOLE, STOREFRONT } from './support.mjs';

const visitor = useBrowser();

/** A product of the demo's shape with one variant and no image. */
function product(id) {
  return {
    id, slug: id, title: `Image Test ${id}`, description: 'Made for the image test.', category: 'home',
    tags: [], images: [], attributes: {},
    variants: [{ sku: id.toUpperCase(), options: {}, price: { amount: 1200, currency: 'usd' }, available: 3 }],
  };
}

/** CRC-32 (ISO-HDLC) of `bytes`, as PNG chunks carry it. */
function crc32(bytes) {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** A `width` × `height` RGB PNG: a gradient, so that it is a picture and not one colour. */
function png(width, height) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) rows.set([x % 256, y % 256, 128], row + 1 + x * 3);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

/** The width in a WebP's or PNG's header (WebP: its VP8, VP8L or VP8X chunk). */
function imageWidth(bytes) {
  if (bytes.subarray(0, 4).toString('latin1') === '\x89PNG') return bytes.readUInt32BE(16);
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'RIFF', 'neither a PNG nor a WebP');
  assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WEBP');
  const chunk = bytes.subarray(12, 16).toString('latin1');
  if (chunk === 'VP8 ') return bytes.readUInt16LE(26) & 0x3fff;
  if (chunk === 'VP8L') return (bytes.readUInt32LE(21) & 0x3fff) + 1;
  if (chunk === 'VP8X') return bytes.readUIntLE(24, 3) + 1;
  throw new Error(`an unknown WebP chunk ${chunk}`);
}

test('a PNG added on the product page is stored 640 and 320 wide and served by the storefront', async () => {
  const id = unique('pictured');
  await admin('PUT', `/admin/products/${id}`, product(id));
  const { page } = await visitor();
  await signIn(page);
  await page.goto(`${CONSOLE}/catalog/${id}`);
  await page.getByText('No images yet.').waitFor();

  // Not an image: refused in the page, nothing asked of the bucket.
  await page.getByLabel('Add image').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await page.getByText('notes.txt is not an image this shop takes').waitFor();

  await page.getByLabel('Add image').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: png(900, 600) });
  await page.getByText('Image added.').waitFor();
  const url = `/images/${id}-1-640.webp`;
  await page.locator(`li[data-image="${url}"]`).waitFor();
  assert.deepEqual((await admin('GET', `/admin/products/${id}`)).images, [url]);
  const link = await page.locator(`li[data-image="${url}"] a`).getAttribute('href');
  assert.equal(link, `${STOREFRONT.replace(/\/$/, '')}${url}`, 'linked where the storefront serves it');

  for (const [file, width] of [[`${id}-1-640.webp`, 640], [`${id}-1-320.webp`, 320]]) {
    const response = await fetch(`${STOREFRONT}/images/${file}`);
    assert.equal(response.status, 200, file);
    assert.equal(response.headers.get('content-type'), 'image/webp', file);
    assert.equal(imageWidth(Buffer.from(await response.arrayBuffer())), width, file);
  }

  // A second image takes the next number; made the main one, it comes first; removed, it goes.
  await page.getByLabel('Add image').setInputFiles({ name: 'other.png', mimeType: 'image/png', buffer: png(400, 400) });
  await page.getByText('Image added.').waitFor();
  const second = `/images/${id}-2-640.webp`;
  await page.locator(`li[data-image="${second}"]`).waitFor();
  await page.getByRole('button', { name: 'Make image 2 the main one' }).click();
  await page.getByText('Main image set.').waitFor();
  assert.deepEqual((await admin('GET', `/admin/products/${id}`)).images, [second, url]);
  await page.getByRole('button', { name: 'Remove image 1' }).click();
  await page.getByText('Image removed.').waitFor();
  await eventually('the product to keep the first image only', async () =>
    JSON.stringify((await admin('GET', `/admin/products/${id}`)).images) === JSON.stringify([url]));
});
