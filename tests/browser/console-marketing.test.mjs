// The console's marketing section in a real browser, against the stack `make test` started: the
// owner imports a list from a file (a bad row writes nothing and is named) and mends it pasted, composes a campaign,
// previews it as a reader gets it, sends it after confirming, and follows it to "sent" (the
// stack's campaign queue worker does the sending).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE, eventually, mailsTo, signIn, unique, useBrowser } from './support.mjs';

const visitor = useBrowser();

/** The counts row of `source` on the marketing page (its cells' text), or null. */
async function sourceCounts(page, source) {
  await page.goto(`${CONSOLE}/marketing`);
  const row = page.locator(`#subscriber-sources tr[data-source="${source}"] td`);
  return (await row.count()) ? row.allTextContents() : null;
}

test('the owner imports a consented list, mends its bad row, and sends a previewed campaign to it', async () => {
  const { context, page } = await visitor();
  await signIn(page);
  const source = unique('fair').toLowerCase();
  const emails = [0, 1, 2].map((i) => `${unique(`fair${i}`)}@example.com`);
  const subscribedBefore = Number(await (async () => {
    await page.goto(`${CONSOLE}/marketing`);
    return page.locator('#subscriber-counts td[data-count="0"]').textContent();
  })());

  // A file with one bad row: nothing is written, the row is named by its line, and the file's
  // rows are in the box to mend.
  const list = (third) => `email,consented_at,source\n${emails[0]},2026-05-01T09:30:00Z,${source}\n${third},2026-05-01 09:30,${source}\n${emails[2]},2026-05-02 10:00,${source}\n`;
  await page.goto(`${CONSOLE}/marketing/import`);
  await page.getByLabel('CSV file').setInputFiles({
    name: 'fair.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(`\ufeff${list('not-an-address')}`),
  });
  await page.getByRole('button', { name: 'Import' }).click();
  assert.match(await page.locator('main').textContent(), /Nothing was imported/);
  const problems = await page.locator('#import-problems li').allTextContents();
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0], /^Line 3, email: /);
  assert.equal(await page.getByLabel('Subscribers (CSV)').inputValue(), list('not-an-address'), 'the list kept to mend');
  assert.equal(await sourceCounts(page, source), null, 'no row of the list was written');

  // Mended: all three are subscribed, and the counts say so.
  await page.goto(`${CONSOLE}/marketing/import`);
  await page.getByLabel('Subscribers (CSV)').fill(list(emails[1]));
  await page.getByRole('button', { name: 'Import' }).click();
  await page.waitForURL(`${CONSOLE}/marketing`);
  assert.match(await page.locator('[role="status"]').textContent(), new RegExp(`Imported: 3 added, 0 known before, from ${source}`));
  assert.deepEqual(await sourceCounts(page, source), ['3', '0', '0', '0', '0']);
  const subscribedAfter = Number(await page.locator('#subscriber-counts td[data-count="0"]').textContent());
  assert.ok(subscribedAfter >= subscribedBefore + 3, `${subscribedBefore} -> ${subscribedAfter}`);
  assert.match(await page.locator('main').textContent(), /\/sitemap\.xml/);
  assert.match(await page.locator('main').textContent(), /\/feeds\/google\.xml/);

  // Composed and previewed as a reader gets it.
  const subject = unique('Spring at the fair');
  await page.getByRole('link', { name: 'New campaign' }).click();
  await page.getByLabel('Name (yours, not shown to readers)').fill(`fair ${subject}`);
  await page.getByLabel('Subject').fill(subject);
  await page.getByLabel('HTML body').fill('<p>Hello {{email}}, <b>spring</b> is here.</p>');
  await page.getByLabel('Text body').fill('Hello {{email}}, spring is here.');
  await page.getByLabel('Those who signed up at this source:').check();
  await page.getByLabel('Source', { exact: true }).fill(source);
  await page.getByRole('button', { name: 'Preview' }).click();
  assert.equal(await page.locator('#preview-subject').textContent(), subject);
  const frame = page.frameLocator('iframe[title="HTML preview"]');
  assert.match(await frame.locator('body').textContent(), /Hello reader@example\.com, spring is here\./);
  assert.match(await frame.locator('body').textContent(), /Unsubscribe/);
  assert.equal(await page.locator('iframe[title="HTML preview"]').getAttribute('sandbox'), '', 'sandboxed: no script runs');
  assert.match(await page.locator('#preview-text').textContent(), /Hello reader@example\.com, spring is here\./);
  assert.equal(await page.getByLabel('Subject').inputValue(), subject, 'the form kept as typed');

  // Saved, sent after the confirmation, followed to "sent".
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.waitForURL(/\/marketing\/campaigns\/[^/]+$/);
  const campaignUrl = page.url();
  assert.equal(await page.locator('#campaign-status').textContent(), 'draft');
  await page.getByRole('link', { name: 'Send…' }).click();
  assert.match(await page.locator('main').textContent(), new RegExp(`Send “${subject}” to every subscriber who signed up at ${source} now\\?`));
  await page.getByRole('button', { name: 'Yes, send it now' }).click();
  await page.waitForURL(campaignUrl);
  await eventually('the campaign is sent', async () => {
    await page.goto(campaignUrl);
    return (await page.locator('#campaign-status').textContent()) === 'sent';
  });
  assert.equal(await page.locator('[data-count="sent"]').textContent(), '3');
  assert.equal(await page.locator('[data-count="failed"]').textContent(), '0');
  assert.equal(await page.locator('meta[http-equiv="refresh"]').count(), 0, 'a sent campaign stops refreshing');
  for (const email of emails) {
    const mails = (await mailsTo(email)).filter((mail) => mail.subject === subject);
    assert.equal(mails.length, 1, `${email} got the campaign once`);
  }
  await context.close();
});
