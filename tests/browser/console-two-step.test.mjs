// Two-step sign-in in the console, in a real browser against the stack `make test` started:
// moto's Cognito checks the authenticator codes (TOTP) as AWS does, and this test is the app,
// computing the codes from the secret the page shows (RFC 6238: HMAC-SHA1, 30 s, 6 digits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { CONSOLE, DEADLINE_MS, signIn, unique, useBrowser } from './support.mjs';

const visitor = useBrowser();

/** The bytes of a base32 (RFC 4648) secret, as an authenticator app reads it. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of text.replace(/[\s=]/g, '').toUpperCase()) {
    const value = alphabet.indexOf(char);
    assert.ok(value >= 0, `${char} is not base32`);
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The code an app shows for `secret` in the 30-second step of `seconds`. */
function totp(secret, seconds) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(seconds / 30)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** The code of now, from a step with at least 5 seconds left (Cognito takes the current step
 * only, so a code typed at a step's very end would be the next step's wrong one). */
async function currentCode(secret) {
  const deadline = Date.now() + DEADLINE_MS;
  while (30 - ((Date.now() / 1000) % 30) < 5) {
    assert.ok(Date.now() < deadline, 'the clock did not move');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return totp(secret, Date.now() / 1000);
}

/** A code that is certainly not the current one. */
const wrong = (code) => String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');

async function passwordStep(page, email, password) {
  await page.goto(`${CONSOLE}/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a staff member turns on two-step sign-in with an authenticator app, then signs in with its code; an owner resets it', async () => {
  const email = `${unique('two-step')}@example.com`;
  const password = `Two-step-${unique('pw')}-9`;
  const owner = await visitor();
  await signIn(owner.page);
  await owner.page.goto(`${CONSOLE}/settings`);
  await owner.page.getByLabel('Staff email').fill(email);
  await owner.page.getByLabel('Password to hand over').fill(password);
  await owner.page.getByRole('button', { name: 'Add account' }).click();
  assert.match(await owner.page.locator('.notice').textContent(), /can now sign in as staff/);

  const { context, page } = await visitor();
  await signIn(page, email, password);
  await page.getByTitle('Your account').click();
  await page.waitForURL(`${CONSOLE}/account`);
  assert.match(await page.locator('#two-step-state').textContent(), /off/);

  await page.getByLabel('Password').fill('not-my-password');
  await page.getByRole('button', { name: 'Set up two-step sign-in' }).click();
  assert.match(await page.locator('.notice').textContent(), /That password is wrong/);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Set up two-step sign-in' }).click();
  await page.waitForURL(`${CONSOLE}/account`);
  assert.ok(await page.locator('.qr svg').isVisible(), 'a QR code to scan');
  const secret = (await page.locator('#secret').textContent()).replace(/\s/g, '');
  assert.match(secret, /^[A-Za-z2-7]{12,}$/, 'base32 (moto gives every account one short secret)');
  const held = (await context.cookies(CONSOLE)).find((c) => c.name === 'console_enrol');
  assert.ok(held && held.httpOnly && !held.value.includes(secret), 'the secret is held sealed');

  let code = await currentCode(secret);
  await page.getByLabel('Code').fill(wrong(code));
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
  assert.match(await page.locator('.notice').textContent(), /That code is not right/);
  assert.match(await page.locator('#two-step-state').textContent(), /setting it up/, 'still setting up');
  code = await currentCode(secret);
  await page.getByLabel('Code').fill(code);
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
  assert.match(await page.locator('.notice').textContent(), /Two-step sign-in is on/);
  assert.match(await page.locator('#two-step-state').textContent(), /is on/);

  // The password alone no longer signs in: the code is asked next, and a wrong one is refused.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${CONSOLE}/sign-in`);
  await passwordStep(page, email, password);
  await page.waitForURL(`${CONSOLE}/sign-in/code`);
  await page.goto(`${CONSOLE}/today`);
  await page.waitForURL(`${CONSOLE}/sign-in`, { timeout: DEADLINE_MS });
  await passwordStep(page, email, password);
  await page.waitForURL(`${CONSOLE}/sign-in/code`);
  code = await currentCode(secret);
  await page.getByLabel('Code').fill(wrong(code));
  await page.getByRole('button', { name: 'Verify' }).click();
  assert.match(await page.locator('.notice').textContent(), /That code is not right/);
  code = await currentCode(secret);
  await page.getByLabel('Code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL(`${CONSOLE}/today`);
  assert.ok(!(await context.cookies(CONSOLE)).some((c) => c.name === 'console_code'), 'the pending sign-in is forgotten');

  // A lost phone: an owner resets it, and the password alone signs in again.
  await owner.page.goto(`${CONSOLE}/settings`);
  await owner.page.locator(`tr[data-account="${email}"]`).getByRole('button', { name: 'Reset two-step sign-in' }).click();
  assert.match(await owner.page.locator('.notice').textContent(), /signs in with the password alone now/);
  await owner.page.goto(`${CONSOLE}/audit`);
  assert.match(await owner.page.locator('main').textContent(), /two-step sign-in turned off/);
  assert.match(await owner.page.locator('main').textContent(), /two-step sign-in turned on/);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, email, password);
  assert.equal(new URL(page.url()).pathname, '/today');
  await context.close();
  await owner.context.close();
});
