/**
 * MFA-2 in real Chromium: a user sets up an authenticator app from the account area (QR code
 * rendered by the server, no script, no CSP violation), confirms it with a code, sees the
 * recovery codes once, then signs in with password + code; the pages are labelled and
 * screenshots are kept for a human look. Enrolment, new recovery codes and removal are logged and
 * counted, without the key or a code.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser } from '../support/fixtures.js';
import { launchChromium } from '../support/chromium.js';
import { counterValue, createTestStorage, linesLeaking, loggedEvents, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { currentStep, totpCode } from '../support/totp.js';

let storage: TestStorage;
let server: TestServer;
let browser: Browser;
let user: { username: string; password: string; account: { id: string } };
const contexts: BrowserContext[] = [];
const cspViolations: string[] = [];
const SCREENSHOTS = path.resolve('test-results/screenshots');

async function openPage(): Promise<Page> {
  const context = await browser.newContext();
  context.setDefaultTimeout(10_000);
  contexts.push(context);
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
  });
  return page;
}

async function signInWithPassword(page: Page): Promise<void> {
  await page.goto(`${server.issuer}/account`);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  user = await registerUser(server, 'hana');
  browser = await launchChromium();
});

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await server?.stop();
  await storage?.dispose();
});

describe('MFA-2 authenticator app in the browser', () => {
  let secret = '';
  let recoveryCodes: string[] = [];
  // Every recovery code ever shown: none may reach the log.
  const shownCodes: string[] = [];

  it('sets up an authenticator app from the account area with a server-rendered QR code and a confirmation code', async () => {
    const page = await openPage();
    await signInWithPassword(page);
    await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
    await page.getByRole('link', { name: 'Sign-in security' }).click();
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const qr = page.getByRole('img', { name: 'QR code to add Gatehouse to your authenticator app' });
    await qr.waitFor();
    // The image really rendered (a data: PNG under img-src 'self' data:).
    expect(await qr.evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(100);
    secret = ((await page.locator('#totp-key').textContent()) ?? '').replace(/\s+/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'totp-setup.png'), fullPage: true });

    await page.getByLabel('Code from your authenticator app').fill('000000' === totpCode(secret) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
    await page.getByRole('alert').filter({ hasText: 'That code is not right' }).waitFor();
    await page.getByLabel('Code from your authenticator app').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    recoveryCodes = await page.locator('ol.codes code').allTextContents();
    expect(recoveryCodes).toHaveLength(10);
    shownCodes.push(...recoveryCodes);
    expect(loggedEvents(server, 'totp_enrolled')).toEqual([expect.objectContaining({ accountId: user.account.id })]);
    expect(await counterValue(server, 'gatehouse_second_factor_total', 'method="totp",result="enrolled"')).toBe(1);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'recovery-codes.png'), fullPage: true });
    await page.getByRole('link', { name: 'I have saved them' }).click();
    await expect(page.locator('main').textContent()).resolves.toContain('An authenticator app is set up');
    expect(await page.locator('main').textContent()).toContain('10 of 10 recovery codes left');
    // Shown once: the security page never lists them again.
    expect(await page.content()).not.toContain(recoveryCodes[0]);
  });

  it('then asks for the code after the password, and signs in with it', async () => {
    const page = await openPage();
    await signInWithPassword(page);
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'second-factor.png'), fullPage: true });
    await page.getByLabel('Code from your authenticator app').fill(totpCode(secret, currentStep() + 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
  });

  it('signs in with a recovery code from the disclosure below the code field; new codes replace the rest', async () => {
    const page = await openPage();
    await signInWithPassword(page);
    await page.getByText('Use a recovery code instead').click();
    await page.getByLabel('Recovery code').fill(recoveryCodes[0] ?? '');
    await page.getByRole('button', { name: 'Use recovery code' }).click();
    await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
    await page.getByRole('link', { name: 'Sign-in security' }).click();
    expect(await page.locator('main').textContent()).toContain('9 of 10 recovery codes left');
    // New codes replace the rest: the later tests use these.
    await page.getByRole('button', { name: 'Generate new recovery codes' }).click();
    await page.getByText('your previous codes no longer work').waitFor();
    recoveryCodes = await page.locator('ol.codes code').allTextContents();
    expect(recoveryCodes).toHaveLength(10);
    shownCodes.push(...recoveryCodes);
    expect(loggedEvents(server, 'recovery_codes_regenerated')).toEqual([expect.objectContaining({ accountId: user.account.id })]);
  });

  it('removing the app needs a recent sign-in and the password, then offers to sign out everywhere else', async () => {
    const page = await openPage();
    await signInWithPassword(page);
    await page.getByText('Use a recovery code instead').click();
    await page.getByLabel('Recovery code').fill(recoveryCodes[1] ?? '');
    await page.getByRole('button', { name: 'Use recovery code' }).click();
    await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
    // Every session of this user signed in an hour ago.
    await server.gatehouse.services.db.knex.raw(
      "UPDATE oidc_records SET payload = jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch from now())::int - 3600)) WHERE model = 'Session' AND account_id = ?",
      [user.account.id],
    );
    await page.goto(`${server.issuer}/account/security`);
    await page.getByLabel('Current password').fill(user.password);
    await page.getByRole('button', { name: 'Remove authenticator app' }).click();
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    expect(await server.gatehouse.services.factors.hasTotp(user.account.id)).toBe(true);
    await page.getByRole('link', { name: 'Sign in again' }).click();
    // A fresh sign-in: the password and the second factor again, then back to this page.
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Use a recovery code instead').click();
    await page.getByLabel('Recovery code').fill(recoveryCodes[2] ?? '');
    await page.getByRole('button', { name: 'Use recovery code' }).click();
    await page.getByRole('heading', { name: 'Sign-in security' }).waitFor();

    await page.getByLabel('Current password').fill('not-the-password-at-all');
    await page.getByRole('button', { name: 'Remove authenticator app' }).click();
    await page.getByRole('alert').filter({ hasText: 'The current password is not right.' }).waitFor();
    expect(await server.gatehouse.services.factors.hasTotp(user.account.id)).toBe(true);
    await page.getByLabel('Current password').fill(user.password);
    await page.getByRole('button', { name: 'Remove authenticator app' }).click();
    await page.getByText('The authenticator app is removed.').waitFor();
    expect(await server.gatehouse.services.factors.hasTotp(user.account.id)).toBe(false);
    expect(loggedEvents(server, 'totp_removed')).toEqual([expect.objectContaining({ accountId: user.account.id })]);
    expect(await counterValue(server, 'gatehouse_second_factor_total', 'method="totp",result="removed"')).toBe(1);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'factor-removed.png'), fullPage: true });
    expect(await page.getByLabel('Sign out all other sessions and revoke their access').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('All your other sessions are signed out.').waitFor();
    expect(await server.gatehouse.services.sessions.listForAccount(user.account.id)).toHaveLength(1);
  });

  it('a password change also needs a recent sign-in', async () => {
    const page = await openPage();
    await signInWithPassword(page);
    await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
    await server.gatehouse.services.db.knex.raw(
      "UPDATE oidc_records SET payload = jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch from now())::int - 3600)) WHERE model = 'Session' AND account_id = ?",
      [user.account.id],
    );
    await page.goto(`${server.issuer}/account/password`);
    await page.getByLabel('Current password').fill(user.password);
    await page.getByLabel('New password', { exact: true }).fill(`${user.password}-new!`);
    await page.getByLabel('New password again').fill(`${user.password}-new!`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    expect(await server.gatehouse.services.accounts.authenticate(user.username, user.password)).toBeDefined();
    const again = await page.getByRole('link', { name: 'Sign in again' }).getAttribute('href');
    expect(new URL(again ?? '', server.issuer).searchParams.get('prompt')).toBe('login');
  });

  it('never logged the app’s key, a recovery code or the password', () => {
    expect(shownCodes).toHaveLength(20);
    expect(linesLeaking(server, [secret, ...shownCodes, user.password])).toEqual([]);
  });

  it('kept every page free of Content-Security-Policy violations', () => {
    expect(cspViolations).toEqual([]);
  });
});
