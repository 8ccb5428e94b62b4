/**
 * A person signing in with real Chromium: the pages render with the stylesheet under the strict
 * CSP (no violations), the labelled fields and buttons work, and the code comes back.
 */
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIRECT_URI, registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { launchChromium } from '../support/chromium.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  await registerSpaClient(server);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await storage?.dispose();
});

describe('login in a real browser', () => {
  it('signs in through the labelled login and consent pages and returns a code the client can redeem', async () => {
    const user = await registerUser(server, 'carol');
    const spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(spa, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'browser-state',
    });

    const context = await browser.newContext();
    const page = await context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    // The client's redirect URI is not a real site: capture the redirect instead of loading it.
    let callback: URL | undefined;
    await page.route('https://app.test.example/**', async (route) => {
      callback = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>client</p>' });
    });

    await page.goto(url.href);
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    const background = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    expect(background).not.toBe('rgba(0, 0, 0, 0)');
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('button', { name: 'Allow' }).waitFor();
    const consentText = await page.textContent('main');
    expect(consentText).toContain('Test SPA');
    expect(consentText).toContain('See your e-mail address');
    await expect(page.getByRole('link', { name: 'Sign out' }).isVisible()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/app\.test\.example/);

    expect(callback?.searchParams.get('state')).toBe('browser-state');
    const tokens = await oidc.authorizationCodeGrant(spa, callback as URL, { pkceCodeVerifier: verifier, expectedState: 'browser-state' });
    expect(tokens.claims()?.sub).toBe(user.account.id);
    expect(cspViolations).toEqual([]);
    await context.close();
  });
});
