/**
 * MFA-3 in real Chromium: inside a live password session, a relying party asking for
 * urn:gatehouse:acr:mfa gets only the second factor asked; max_age asks for the whole sign-in
 * again; each ID token says what happened. Pages stay CSP-clean.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA, ACR_PASSWORD } from '../../src/accounts/authentication-context.js';
import { REDIRECT_URI, registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { launchChromium } from '../support/chromium.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { currentStep, totpCode } from '../support/totp.js';

let storage: TestStorage;
let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let spa: oidc.Configuration;
let user: { username: string; password: string; account: { id: string } };
let callback: URL | undefined;
const cspViolations: string[] = [];
const SCREENSHOTS = path.resolve('test-results/screenshots');

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  await registerSpaClient(server);
  user = await registerUser(server, 'yara');
  spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  browser = await launchChromium();
  context = await browser.newContext();
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
  });
  await page.route('https://app.test.example/**', async (route) => {
    callback = new URL(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>client</p>' });
  });
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await server?.stop();
  await storage?.dispose();
});

/** Starts an authorization request in the browser; `finish` walks the pages; returns the ID token's claims. */
async function authorize(params: Record<string, string>, finish: () => Promise<void>) {
  const verifier = oidc.randomPKCECodeVerifier();
  callback = undefined;
  const url = oidc.buildAuthorizationUrl(spa, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'st',
    ...params,
  });
  await page.goto(url.href);
  await finish();
  await page.waitForURL(/app\.test\.example/);
  const tokens = await oidc.authorizationCodeGrant(spa, callback as unknown as URL, { pkceCodeVerifier: verifier, expectedState: 'st' });
  return tokens.claims();
}

describe('MFA-3 step-up in the browser', () => {
  let secret = '';
  let recovery: string[] = [];
  let firstAuthTime = 0;

  it('signs in with the password while the user has no second factor', async () => {
    const claims = await authorize({ max_age: '3600' }, async () => {
      await page.getByLabel('Username').fill(user.username);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
    });
    expect(claims).toMatchObject({ acr: ACR_PASSWORD, amr: ['pwd'] });
    firstAuthTime = Number(claims?.auth_time);
    // The user then sets up an authenticator app (in another tab, say).
    secret = await server.gatehouse.services.factors.startTotpEnrolment(user.account.id);
    recovery = (await server.gatehouse.services.factors.confirmTotp(user.account.id, totpCode(secret))) ?? [];
  });

  it('acr_values=urn:gatehouse:acr:mfa asks the live session for the code only', async () => {
    const claims = await authorize({ acr_values: ACR_MFA }, async () => {
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      expect(await page.getByLabel('Password').count()).toBe(0);
      expect(await page.locator('main').textContent()).toContain('asks you to confirm it is you');
      // SESS-4: the user is signed in here, so the page carries a sign-out control.
      expect(await page.getByRole('link', { name: 'Sign out' }).count()).toBe(1);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'step-up.png'), fullPage: true });
      await page.getByLabel('Code from your authenticator app').fill(totpCode(secret, currentStep() + 1));
      await page.getByRole('button', { name: 'Verify' }).click();
    });
    expect(claims).toMatchObject({ sub: user.account.id, acr: ACR_MFA, amr: ['pwd', 'otp'] });
  });

  it('max_age asks for the password and the second factor again, and auth_time moves', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const claims = await authorize({ max_age: '1' }, async () => {
      await page.getByLabel('Password').fill(user.password);
      await page.getByLabel('Username').fill(user.username);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('Use a recovery code instead').click();
      await page.getByLabel('Recovery code').fill(recovery[0] ?? '');
      await page.getByRole('button', { name: 'Use recovery code' }).click();
    });
    expect(claims).toMatchObject({ acr: ACR_MFA, amr: ['pwd', 'otp'] });
    expect(Number(claims?.auth_time)).toBeGreaterThan(firstAuthTime);
  });

  it('kept every page free of Content-Security-Policy violations', () => {
    expect(cspViolations).toEqual([]);
  });
});
