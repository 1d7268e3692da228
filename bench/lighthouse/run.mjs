// Lighthouse on three storefront pages: the home page, a product page and the cart with a line in
// it. Performance, accessibility, best practices and SEO, Lighthouse's default settings (mobile,
// simulated throttling: a mid-tier phone on slow 4G, computed from the page load observed here).
//
// Runs inside a local stack (`make bench` starts one): SHOP_STOREFRONT_URL comes from it. Debian's
// chromium (CHROMIUM, default /usr/bin/chromium), headless, a fresh profile of its own, with the
// flags that keep it from stalling on this closed network, driven by puppeteer-core (Lighthouse's
// own dependency). The cart gets its line the way a shopper's does: the product page's "Add to
// cart" form, in the same browser, whose cookie Lighthouse keeps (it clears caches and service
// workers between runs, not cookies).
//
// Writes bench/lighthouse.json: per page, each category's score (0-100) and the audits that lost
// points. BENCH_LIGHTHOUSE_PRODUCT names the product's slug (default: the demo catalog's first).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import lighthouse from 'lighthouse';
import puppeteer from 'puppeteer-core';

const STOREFRONT = (process.env.SHOP_STOREFRONT_URL || '').replace(/\/$/, '');
if (!STOREFRONT) {
  console.error('lighthouse: SHOP_STOREFRONT_URL is not set: run it inside the stack (make bench does)');
  process.exit(1);
}
const PRODUCT = process.env.BENCH_LIGHTHOUSE_PRODUCT || 'merino-crew-sweater';
const OUT = new URL('../lighthouse.json', import.meta.url);
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];
const GOAL = 95;
// The whole run's deadline, as every bench step has one (three audits take under a minute here).
const DEADLINE_S = Number(process.env.BENCH_LIGHTHOUSE_DEADLINE_S || 300);
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** The audits of `category` that lost points (weighted ones only), worst first. */
function failing(lhr, category) {
  return lhr.categories[category].auditRefs
    .filter((ref) => ref.weight > 0)
    .map((ref) => ({ ref, audit: lhr.audits[ref.id] }))
    .filter(({ audit }) => audit.score !== null && audit.score < 1 && audit.scoreDisplayMode !== 'informative')
    .sort((a, b) => a.audit.score - b.audit.score || b.ref.weight - a.ref.weight)
    .map(({ ref, audit }) => ({
      id: ref.id,
      title: audit.title,
      score: Math.round(audit.score * 100),
      weight: ref.weight,
      ...(audit.displayValue ? { value: audit.displayValue } : {}),
      ...(found(audit).length ? { found: found(audit) } : {}),
    }));
}

/** What an audit found, in a few words each (its first items' addresses, sources or nodes). */
function found(audit) {
  const items = audit.details?.items ?? [];
  return items.slice(0, 3).map((item) => {
    const text = item.description ?? item.node?.snippet ?? item.source?.url ?? item.url ?? item.node?.selector;
    const where = item.sourceLocation?.url ?? item.url;
    return [text, where && where !== text ? `(${where})` : ''].filter(Boolean).join(' ').slice(0, 200);
  }).filter(Boolean);
}

async function audit(page, name, url) {
  const started = Date.now();
  const result = await lighthouse(url, { output: 'json', logLevel: 'error', onlyCategories: CATEGORIES }, undefined, page);
  const lhr = result.lhr;
  if (lhr.runtimeError) throw new Error(`${name}: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`);
  const row = { page: name, url: lhr.finalDisplayedUrl, scores: {}, failing: {}, metrics: {} };
  for (const category of CATEGORIES) {
    row.scores[category] = Math.round(lhr.categories[category].score * 100);
    row.failing[category] = failing(lhr, category);
  }
  for (const metric of ['first-contentful-paint', 'largest-contentful-paint', 'total-blocking-time',
    'cumulative-layout-shift', 'speed-index', 'server-response-time']) {
    row.metrics[metric] = lhr.audits[metric]?.numericValue === undefined
      ? null : Math.round(lhr.audits[metric].numericValue * 1000) / 1000;
  }
  row.warnings = lhr.runWarnings;
  console.error(`lighthouse: ${name} ${JSON.stringify(row.scores)} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { row, lhr };
}

setTimeout(() => {
  console.error(`lighthouse: not done within ${DEADLINE_S} s`);
  process.exit(1);
}, DEADLINE_S * 1000).unref();

const profile = await mkdtemp(join(tmpdir(), 'shop-lighthouse-'));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  userDataDir: profile,
  args: FLAGS.filter((flag) => flag !== '--headless'),
  defaultViewport: null,
});
let settings;
const pages = [];
const chromium = await browser.version();
try {
  const page = await browser.newPage();
  for (const [name, path] of [['home', '/'], ['product', `/products/${PRODUCT}`]]) {
    const { row, lhr } = await audit(page, name, `${STOREFRONT}${path}`);
    pages.push(row);
    settings ??= lhr.configSettings;
  }
  // A line in the cart, through the product page's own form, as a shopper adds it.
  await page.goto(`${STOREFRONT}/products/${PRODUCT}`, { waitUntil: 'load' });
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('form.add button[type=submit]'),
  ]);
  if (!page.url().endsWith('/cart') || !(await page.$('form[action="/cart/lines"]'))) {
    throw new Error(`adding ${PRODUCT} to the cart ended on ${page.url()} without a cart line`);
  }
  pages.push((await audit(page, 'cart', `${STOREFRONT}/cart`)).row);
} finally {
  await browser.close();
  await rm(profile, { recursive: true, force: true });
}

const report = {
  measured: new Date().toISOString().slice(0, 10),
  lighthouse: JSON.parse(await readFile(new URL('./node_modules/lighthouse/package.json', import.meta.url))).version,
  chromium,
  settings: settings && {
    form_factor: settings.formFactor,
    throttling_method: settings.throttlingMethod,
    throttling: settings.throttling,
    screen: settings.screenEmulation,
  },
  goal: GOAL,
  pages,
};
await writeFile(OUT, JSON.stringify(report, null, 2) + '\n');
const low = pages.flatMap((row) => CATEGORIES.filter((c) => row.scores[c] < GOAL).map((c) => `${row.page} ${c} ${row.scores[c]}`));
console.error(low.length ? `lighthouse: under ${GOAL}: ${low.join(', ')}` : `lighthouse: every score ${GOAL} or more`);
