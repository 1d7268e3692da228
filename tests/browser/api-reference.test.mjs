// The API reference page `make dev` serves (infra/local/api_reference.py: openapi.json rendered
// by Redoc), in a real browser: every operation of the contract is on it, each with its method
// and path, and the page's policy lets it load nothing from outside its own origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { eventually, useBrowser } from './support.mjs';

const visitor = useBrowser();
const contract = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

let server;
let reference;

before(async () => {
  // Port 0: the server takes a free one and says which.
  server = spawn('python3', ['infra/local/api_reference.py', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(server.stdout, 'data');
  reference = String(line).match(/http:\/\/\S+/)[0];
});

after(() => server?.kill());

test('the reference page shows every operation of openapi.json with its method and path', async () => {
  const { page } = await visitor();
  // What the page asks of other origins (Redoc's logo), and how each ended.
  const outside = new Map();
  const foreign = (request) => !request.url().startsWith(reference) && !/^(data|blob):/.test(request.url());
  page.on('request', (request) => foreign(request) && outside.set(request.url(), 'asked'));
  page.on('requestfailed', (request) => foreign(request) && outside.set(request.url(), request.failure()?.errorText));
  const refused = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !/cdn\.redoc\.ly.*Content Security Policy/.test(message.text())) refused.push(message.text());
  });
  await page.goto(reference);
  await page.locator('.api-content').waitFor();

  const operations = Object.entries(contract.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ path, method, ...item[method] })));
  assert.ok(operations.length >= 50, `the contract has its operations (${operations.length})`);
  const shown = await page.evaluate(() => [...document.querySelectorAll('[id^="tag/"][id*="/operation/"]')].map((e) => e.id));
  for (const operation of operations) {
    assert.ok(shown.some((id) => id.endsWith(`/operation/${operation.operationId}`)), `${operation.operationId} is on the page`);
  }
  // The first operation's section names its path and method, as an integrator reads them.
  const first = operations[0];
  const section = page.locator(`[id$="/operation/${first.operationId}"]`).first();
  assert.match(await section.innerText(), new RegExp(`${first.summary.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(await section.innerText(), new RegExp(`${first.method}\\s*${first.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`, 'i'));
  for (const [url, ended] of outside) {
    assert.equal(ended, 'csp', `${url} is refused by the page's policy, not fetched`);
  }
  assert.deepEqual(refused, [], 'no script error');
});
