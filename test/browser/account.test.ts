/**
 * The account area in real Chromium, one user in three browsers (SESS-4, SESS-8, SESS-9, SESS-10).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser } from '../support/fixtures.js';
import { launchChromium } from '../support/chromium.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

const AGENTS = {
  windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  linux: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
};

let storage: TestStorage;
let server: TestServer;
let browser: Browser;
let user: { username: string; password: string };
const contexts: BrowserContext[] = [];

async function openBrowser(userAgent: string): Promise<Page> {
  const context = await browser.newContext({ userAgent });
  context.setDefaultTimeout(10_000);
  contexts.push(context);
  return context.newPage();
}

async function signIn(page: Page, password = user.password): Promise<void> {
  await page.goto(`${server.issuer}/account`);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
}

/** Reloads the account page: true if still signed in, false if sent to the login page. */
async function stillSignedIn(page: Page): Promise<boolean> {
  await page.goto(`${server.issuer}/account`);
  return (await page.getByRole('heading', { name: 'Your sessions' }).count()) === 1;
}

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage, { MAX_SESSIONS_PER_ACCOUNT: '2' });
  user = await registerUser(server, 'dana');
  browser = await launchChromium();
});

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await server?.stop();
  await storage?.dispose();
});

describe('the account area, one user in three browsers', () => {
  let windows: Page;
  let linux: Page;
  let mac: Page;

  it('SESS-9 lists the sessions in human terms, marks this device, and never shows an identifier', async () => {
    windows = await openBrowser(AGENTS.windows);
    linux = await openBrowser(AGENTS.linux);
    await signIn(windows);
    await signIn(linux);
    await windows.reload();
    const rows = windows.locator('table.sessions tbody tr');
    expect(await rows.count()).toBe(2);
    const text = (await windows.textContent('table.sessions')) ?? '';
    expect(text).toContain('Chrome 130 on Windows');
    expect(text).toContain('Firefox 132 on Linux');
    expect(text).toMatch(/127\.0\.0\.x/);
    expect(await windows.locator('.badge', { hasText: 'This device' }).count()).toBe(1);
    expect(await rows.filter({ hasText: 'This device' }).textContent()).toContain('Windows');

    const html = await windows.content();
    const cookies = await windows.context().cookies();
    for (const cookie of cookies) expect(html).not.toContain(cookie.value);
    const uids = (await server.gatehouse.services.sessions.listForAccount((await server.gatehouse.services.accounts.findByUsername('dana'))?.id ?? '')).map((s) => s.uid);
    for (const uid of uids) expect(html).not.toContain(uid);
  });

  it('SESS-4 shows a sign-out control on every account page, and the pages cannot be framed', async () => {
    for (const path of ['/account', '/account/password']) {
      const response = await windows.goto(`${server.issuer}${path}`);
      expect(await windows.getByRole('button', { name: 'Sign out' }).first().isVisible()).toBe(true);
      expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(response?.headers()['x-frame-options']).toBe('DENY');
    }
  });

  it('SESS-8 ends the oldest session when a third browser signs in past the limit of two', async () => {
    mac = await openBrowser(AGENTS.mac);
    await signIn(mac);
    expect(await stillSignedIn(windows)).toBe(false);
    expect(await stillSignedIn(linux)).toBe(true);
    expect(await stillSignedIn(mac)).toBe(true);
  });

  it('ends another session from the list, effective on that browser’s next request', async () => {
    await linux.goto(`${server.issuer}/account`);
    const macRow = linux.locator('table.sessions tbody tr', { hasText: 'Safari 17 on macOS' });
    await macRow.getByRole('button', { name: /^Sign out Safari 17 on macOS/ }).click();
    await linux.getByText('That session is signed out.').waitFor();
    expect(await linux.locator('table.sessions tbody tr').count()).toBe(1);
    expect(await stillSignedIn(mac)).toBe(false);
    expect(await stillSignedIn(linux)).toBe(true);
  });

  it('refuses a state change without the CSRF token', async () => {
    await signIn(mac);
    const response = await mac.context().request.post(`${server.issuer}/account/sessions/end-others`, {
      form: { choice: 'end' },
      headers: { origin: server.issuer },
    });
    expect(response.status()).toBe(403);
    expect(await stillSignedIn(linux)).toBe(true);
  });

  it('SESS-10 after a password change offers, pre-selected, to end the other sessions, and does so', async () => {
    const newPassword = `${user.password}-changed!`;
    await linux.goto(`${server.issuer}/account/password`);
    await linux.getByLabel('Current password').fill(user.password);
    await linux.getByLabel('New password', { exact: true }).fill(newPassword);
    await linux.getByLabel('New password again').fill(newPassword);
    await linux.getByRole('button', { name: 'Change password' }).click();
    await linux.getByRole('heading', { name: 'Password changed' }).waitFor();
    const endOthers = linux.getByLabel('Sign out all other sessions and revoke their access');
    expect(await endOthers.isChecked()).toBe(true);
    await linux.getByRole('button', { name: 'Continue' }).click();
    await linux.getByText('All your other sessions are signed out.').waitFor();
    expect(await stillSignedIn(mac)).toBe(false);
    expect(await stillSignedIn(linux)).toBe(true);
    expect(await server.gatehouse.services.accounts.authenticate(user.username, newPassword)).toBeDefined();
  });

  it('signs out from the account page; the old cookie then gets the login page', async () => {
    const cookies = await linux.context().cookies();
    await linux.goto(`${server.issuer}/account`);
    await linux.getByRole('button', { name: 'Sign out' }).first().click();
    await linux.getByRole('heading', { name: 'Sign in' }).waitFor();
    const replay = await browser.newContext({ userAgent: AGENTS.linux });
    contexts.push(replay);
    await replay.addCookies(cookies);
    const page = await replay.newPage();
    await page.goto(`${server.issuer}/account`);
    expect(await page.getByRole('heading', { name: 'Sign in' }).count()).toBe(1);
  });
});
