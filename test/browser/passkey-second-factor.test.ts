/**
 * MFA-2 with MFA-1 in real Chromium with a virtual authenticator: a user who has an
 * authenticator app and a passkey is offered "Use a passkey instead" at the code step; it asks
 * the authenticator for that user's own credentials only (allowCredentials), completes the second
 * factor, and the ID token says urn:gatehouse:acr:mfa with amr ["pwd","swk","user"] (RFC 8176).
 * Another account's credential is refused even if the browser is made to use it; the step cannot
 * be started without the password; no Content-Security-Policy violation.
 */
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA } from '../../src/accounts/authentication-context.js';
import { REDIRECT_URI, registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { launchChromium } from '../support/chromium.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { totpCode } from '../support/totp.js';
import { addPasskey, addVirtualAuthenticator, type VirtualAuthenticator } from '../support/virtual-authenticator.js';

type User = { username: string; password: string; account: { id: string } };

let storage: TestStorage;
let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let authenticator: VirtualAuthenticator;
let spa: oidc.Configuration;
let user: User;
let other: User;
const cspViolations: string[] = [];

const OPTIONS = /\/interaction\/[^/]+\/second-factor\/passkey\/options$/;

async function addPasskeyAs(someone: User, name: string): Promise<void> {
  await page.goto(`${server.issuer}/account`);
  await page.getByLabel('Username').fill(someone.username);
  await page.getByLabel('Password').fill(someone.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Passkeys' }).click();
  await addPasskey(page, authenticator, name);
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  // Leave the login page: its autofill request would be answered the next time the authenticator is touched.
  await page.goto('about:blank');
}

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  const port = await freePort();
  server = await startTestServer(storage, { PORT: String(port), ISSUER: `http://localhost:${port}` });
  await registerApi(server);
  await registerSpaClient(server);
  spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  user = await registerUser(server, 'tess');
  other = await registerUser(server, 'ursula');
  browser = await launchChromium();
  context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  await context.route('https://app.test.example/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<p>client</p>' }));
  page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
  });
  authenticator = await addVirtualAuthenticator(context, page);
  await addPasskeyAs(other, 'Ursula’s key');
  await addPasskeyAs(user, 'Tess’s key');
  const factors = server.gatehouse.services.factors;
  const secret = await factors.startTotpEnrolment(user.account.id);
  await factors.confirmTotp(user.account.id, totpCode(secret));
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await server?.stop();
  await storage?.dispose();
});

async function startSignIn(verifier: string): Promise<void> {
  const url = oidc.buildAuthorizationUrl(spa, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'second-step',
    prompt: 'login',
  });
  // An authenticator left touched by a failed test would answer the login page's autofill.
  await authenticator.touch(false);
  await page.goto('about:blank');
  await page.goto(url.href);
}

/** The login page, the password, and then the code page. */
async function toCodePage(verifier: string): Promise<void> {
  await startSignIn(verifier);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Code from your authenticator app').waitFor();
}

describe('MFA-2 a passkey instead of the code at the second step', () => {
  it('offers "Use a passkey instead", allows only the user’s own passkeys, and signs in with acr mfa, amr ["pwd","swk","user"]', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    await toCodePage(verifier);
    // Read on the way through: the page navigates away as soon as the ceremony ends.
    let allowed: string[] | undefined;
    await page.route(OPTIONS, async (route) => {
      const response = await route.fetch();
      allowed = ((await response.json()) as { allowCredentials?: { id: string }[] }).allowCredentials?.map((credential) => credential.id);
      await route.fulfill({ response });
    });
    await authenticator.touch(true);
    await page.getByRole('button', { name: 'Use a passkey instead' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await page.unroute(OPTIONS);
    const own = (await server.gatehouse.services.passkeys.list(user.account.id)).map((passkey) => passkey.id);
    expect(allowed).toEqual(own);
    const landed = page.waitForRequest((request) => request.url().startsWith('https://app.test.example/'));
    await page.getByRole('button', { name: 'Allow' }).click();
    await authenticator.touch(false);
    const tokens = await oidc.authorizationCodeGrant(spa, new URL((await landed).url()), { pkceCodeVerifier: verifier, expectedState: 'second-step' });
    expect(tokens.claims()).toMatchObject({ sub: user.account.id, acr: ACR_MFA, amr: ['pwd', 'swk', 'user'] });
    const [stored] = await server.gatehouse.services.passkeys.list(user.account.id);
    expect(stored?.lastUsedAt).toBeInstanceOf(Date);
  });

  it('refuses another account’s passkey even when the browser is made to offer it', async () => {
    const [foreign] = await server.gatehouse.services.passkeys.list(other.account.id);
    await toCodePage(oidc.randomPKCECodeVerifier());
    // As a tampered page would: the options name the other account's credential, which this authenticator holds too.
    await page.route(OPTIONS, async (route) => {
      const response = await route.fetch();
      const json = (await response.json()) as Record<string, unknown>;
      await route.fulfill({ response, json: { ...json, allowCredentials: [{ id: foreign?.id, type: 'public-key' }] } });
    });
    await authenticator.touch(true);
    await page.getByRole('button', { name: 'Use a passkey instead' }).click();
    await page.getByRole('alert').filter({ hasText: 'That passkey could not be used. Try again, or enter a code.' }).waitFor();
    await authenticator.touch(false);
    await page.unroute(OPTIONS);
    expect(server.logs.join('')).toContain('"reason":"other_account_credential"');
    const [unused] = await server.gatehouse.services.passkeys.list(other.account.id);
    expect(unused?.counter).toBe(foreign?.counter);
    // Still the code step: the code page and its passkey offer are shown again.
    expect(await page.getByRole('button', { name: 'Use a passkey instead' }).count()).toBe(1);
  });

  it('gives no passkey challenge before the password step', async () => {
    await startSignIn(oidc.randomPKCECodeVerifier());
    await page.getByLabel('Username').waitFor();
    const uid = new URL(page.url()).pathname.split('/')[2];
    const options = await page.request.post(`${server.issuer}/interaction/${uid}/second-factor/passkey/options`, { headers: { origin: server.issuer } });
    expect(options.status()).toBe(400);
  });

  it('kept the code page free of Content-Security-Policy violations', () => {
    expect(cspViolations).toEqual([]);
  });
});
