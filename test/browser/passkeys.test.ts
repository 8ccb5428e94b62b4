/**
 * MFA-1 passkeys in real Chromium with a virtual WebAuthn authenticator (Chrome DevTools
 * Protocol): register and name a passkey in the account area, sign in with it instead of a
 * password (discoverable credential), get acr phr / amr ["swk","user"] (a device-bound key
 * too: no attestation proves hardware), the signature counter
 * stored; a captured assertion cannot be replayed; removal needs the password. The issuer is
 * http://localhost (a secure context; WebAuthn refuses IP addresses as RP IDs).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA, ACR_PHISHING_RESISTANT } from '../../src/accounts/authentication-context.js';
import { currentStep, totpCode } from '../support/totp.js';
import { REDIRECT_URI, registerApi, registerClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { launchChromium } from '../support/chromium.js';
import { addPasskey, addVirtualAuthenticator, type VirtualAuthenticator } from '../support/virtual-authenticator.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let authenticator: VirtualAuthenticator;
let callback: URL | undefined;
let user: { username: string; password: string; account: { id: string } };
const cspViolations: string[] = [];
const SCREENSHOTS = path.resolve('test-results/screenshots');

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  storage = await createTestStorage('postgres');
  const port = await freePort();
  server = await startTestServer(storage, { PORT: String(port), ISSUER: `http://localhost:${port}` });
  await registerApi(server);
  await registerSpaClient(server);
  await registerClient(server, { client_id: 'strict-spa', client_name: 'Strict SPA', require_mfa: true, token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT_URI], scope: 'openid' });
  user = await registerUser(server, 'rita');
  browser = await launchChromium();
  context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
  });
  // The client's redirect URI is not a real site: capture the redirect instead of loading it.
  await context.route('https://app.test.example/**', async (route) => {
    callback = new URL(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>client</p>' });
  });
  authenticator = await addVirtualAuthenticator(context, page);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await server?.stop();
  await storage?.dispose();
});

const touch = (enabled: boolean) => authenticator.touch(enabled);

async function authorizationUrl(spa: oidc.Configuration, verifier: string, extra: Record<string, string> = {}): Promise<URL> {
  return oidc.buildAuthorizationUrl(spa, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'passkey-state',
    ...extra,
  });
}

describe('MFA-1 passkeys in the browser', () => {
  let capturedAssertion = '';

  it('registers a named passkey from the account area', async () => {
    await page.goto(`${server.issuer}/account`);
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
    await page.getByRole('link', { name: 'Passkeys' }).click();
    await page.getByText('You have no passkeys yet.').waitFor();
    await addPasskey(page, authenticator, 'Test laptop');
    expect(await page.locator('table.passkeys tbody tr').count()).toBe(1);
    expect(await page.locator('table.passkeys').textContent()).toContain('Test laptop');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'passkeys.png'), fullPage: true });
    const [stored] = await server.gatehouse.services.passkeys.list(user.account.id);
    expect(stored).toMatchObject({ name: 'Test laptop', deviceType: 'singleDevice', backedUp: false });
    const credentials = await authenticator.credentials();
    expect(credentials).toHaveLength(1);
    expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
  });

  it('MFA-3 steps a password session up with the passkey when a relying party asks for multi-factor', async () => {
    const spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    await page.goto((await authorizationUrl(spa, verifier, { acr_values: ACR_MFA })).href);
    // No authenticator app: the login page, which offers the passkey.
    await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
    await touch(true);
    // The page's pending autofill request may answer first once the authenticator is touched.
    await page.getByRole('button', { name: 'Use a passkey' }).click({ timeout: 3000 }).catch(() => undefined);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/app\.test\.example/);
    await touch(false);
    const tokens = await oidc.authorizationCodeGrant(spa, callback as URL, { pkceCodeVerifier: verifier, expectedState: 'passkey-state' });
    expect(tokens.claims()).toMatchObject({ sub: user.account.id, acr: ACR_PHISHING_RESISTANT, amr: ['swk', 'user'] });
  });

  it('signs in with the passkey instead of a password, and the ID token says phr, ["swk","user"] even for a device-bound key', async () => {
    await page.goto(`${server.issuer}/account`);
    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    page.on('request', (request) => {
      if (request.method() === 'POST' && /\/interaction\/[^/]+\/passkey$/.test(new URL(request.url()).pathname)) capturedAssertion = request.postData() ?? '';
    });
    // Consent was given in the step-up above: ask for a fresh one so this sign-in shows every page.
    await page.goto((await authorizationUrl(spa, verifier, { prompt: 'consent' })).href);
    const button = page.getByRole('button', { name: 'Use a passkey' });
    await button.waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'login-with-passkey.png'), fullPage: true });
    await touch(true);
    await button.click({ timeout: 3000 }).catch(() => undefined);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/app\.test\.example/);
    const tokens = await oidc.authorizationCodeGrant(spa, callback as URL, { pkceCodeVerifier: verifier, expectedState: 'passkey-state' });
    expect(tokens.claims()).toMatchObject({ sub: user.account.id, acr: ACR_PHISHING_RESISTANT, amr: ['swk', 'user'] });
    const [stored] = await server.gatehouse.services.passkeys.list(user.account.id);
    expect(stored?.counter).toBeGreaterThan(0);
    expect(stored?.lastUsedAt).toBeInstanceOf(Date);
    expect(capturedAssertion).toContain('response=');
    await touch(false);
  });

  it('MFA-3 a require_mfa client answers a password with "use your passkey" instead of enrolling an app', async () => {
    const strict = await oidc.discovery(new URL(server.issuer), 'strict-spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    await page.goto((await authorizationUrl(strict, verifier, { prompt: 'login' })).href);
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Strict SPA requires more than a password. Sign in with your passkey.' }).waitFor();
    expect(await server.gatehouse.services.factors.hasTotp(user.account.id)).toBe(false);
    await touch(true);
    // The page's pending autofill request may answer first once the authenticator is touched.
    await page.getByRole('button', { name: 'Use a passkey' }).click({ timeout: 3000 }).catch(() => undefined);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/app\.test\.example/);
    await touch(false);
    const tokens = await oidc.authorizationCodeGrant(strict, callback as URL, { pkceCodeVerifier: verifier, expectedState: 'passkey-state' });
    expect(tokens.claims()).toMatchObject({ acr: ACR_PHISHING_RESISTANT, amr: ['swk', 'user'] });
  });

  it('refuses a captured assertion replayed into a new sign-in', async () => {
    const spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    await page.goto((await authorizationUrl(spa, oidc.randomPKCECodeVerifier(), { prompt: 'login' })).href);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const uid = new URL(page.url()).pathname.split('/')[2];
    const replay = await page.request.post(`${server.issuer}/interaction/${uid}/passkey`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.issuer },
      data: capturedAssertion,
      maxRedirects: 0,
    });
    expect(replay.status()).toBe(401);
    expect(await replay.text()).toContain('That passkey could not be used');
  });

  it('WebAuthn §7.2: refuses an assertion whose user handle names another account', async () => {
    const spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const other = await registerUser(server, 'someone-else');
    // The user handle is outside the signature: rewrite it in flight, as a forger could. Once:
    // the refusal page starts autofill again, which the touched authenticator would answer in a
    // loop until the sign-in throttle (API-2) locks the user out for the next tests; a 204 to the
    // later submissions keeps the page where it is and ends the loop.
    let forged = false;
    await page.route(/\/interaction\/[^/]+\/passkey$/, async (route) => {
      if (forged) return route.fulfill({ status: 204 });
      forged = true;
      const body = new URLSearchParams(route.request().postData() ?? '');
      const answer = JSON.parse(body.get('response') ?? '{}') as { response: { userHandle?: string } };
      answer.response.userHandle = Buffer.from(other.account.id, 'utf8').toString('base64url');
      body.set('response', JSON.stringify(answer));
      await route.continue({ postData: body.toString() });
    });
    await page.goto((await authorizationUrl(spa, oidc.randomPKCECodeVerifier(), { prompt: 'login' })).href);
    const button = page.getByRole('button', { name: 'Use a passkey' });
    await button.waitFor();
    await touch(true);
    await button.click({ timeout: 3000 }).catch(() => undefined);
    await page.getByText('That passkey could not be used').waitFor();
    await touch(false);
    await page.unroute(/\/interaction\/[^/]+\/passkey$/);
    expect(server.logs.join('')).toContain('"reason":"user_handle_mismatch"');
  });

  it('offers the passkey in the username field’s autofill (conditional UI) and signs in from it', async () => {
    const spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const autofill = page.waitForRequest((request) => request.url().endsWith('/passkey/options'));
    // The page an earlier test left may hold an autofill request of its own, which a touched
    // authenticator would answer, navigating that old page over this test's: leave it first.
    await page.goto('about:blank');
    // A virtual authenticator that is "touched" answers the page's autofill request by itself,
    // as a user picking the passkey from the username field's suggestions would.
    await touch(true);
    const signedIn = page.waitForResponse((response) => /\/interaction\/[^/]+\/passkey$/.test(response.url()) && response.status() === 303);
    const landed = page.waitForRequest((request) => request.url().startsWith('https://app.test.example/'));
    // The touched authenticator may answer before the login page's `load`: wait for the commit only.
    await page.goto((await authorizationUrl(spa, verifier, { prompt: 'login' })).href, { waitUntil: 'commit' });
    await autofill;
    await signedIn;
    expect(new URL((await landed).url()).searchParams.get('code')).toBeTruthy();
    // Routing does not reach every redirect of this chain: let the unreachable client page settle.
    await page.waitForURL((url) => url.hostname === 'app.test.example' || url.protocol === 'chrome-error:', { waitUntil: 'commit' }).catch(() => undefined);
    await page.waitForLoadState().catch(() => undefined);
    expect(await page.getByRole('button', { name: 'Use a passkey' }).count()).toBe(0);
    await touch(false);
  });

  it('RFC 8176: a passkey session stepped up with an authenticator code says ["swk","user","otp"] (no pwd) and keeps auth_time', async () => {
    const factors = server.gatehouse.services.factors;
    const secret = await factors.startTotpEnrolment(user.account.id);
    await factors.confirmTotp(user.account.id, totpCode(secret));
    const spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const signedInAt = Math.floor(Date.now() / 1000);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const claims = JSON.stringify({ id_token: { acr: { essential: true, value: ACR_MFA } } });
    const stepUp = await context.newPage();
    await stepUp.goto((await authorizationUrl(spa, verifier, { claims, max_age: '3600' })).href);
    // The passkey session is asked for the code only: no password.
    await stepUp.getByLabel('Code from your authenticator app').fill(totpCode(secret, currentStep() + 1));
    expect(await stepUp.getByLabel('Password').count()).toBe(0);
    const landed = stepUp.waitForRequest((request) => request.url().startsWith('https://app.test.example/'));
    await stepUp.getByRole('button', { name: 'Verify' }).click();
    const tokens = await oidc.authorizationCodeGrant(spa, new URL((await landed).url()), { pkceCodeVerifier: verifier, expectedState: 'passkey-state' });
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: ['swk', 'user', 'otp'] });
    expect(Number(tokens.claims()?.auth_time)).toBeLessThanOrEqual(signedInAt);
    await stepUp.close();
    await factors.removeTotp(user.account.id);
  });

  it('adds and removes passkeys only after a recent sign-in; renames; removal needs the password', async () => {
    // Another tab of the same browser (the first one is still on the unreachable client page).
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
    });
    // A session that signed in an hour ago cannot add a passkey (a stolen session must not add a way in).
    await server.gatehouse.services.db.knex.raw(
      "UPDATE oidc_records SET payload = jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch from now())::int - 3600)) WHERE model = 'Session' AND account_id = ?",
      [user.account.id],
    );
    await page.goto(`${server.issuer}/account/passkeys`);
    expect(await page.getByRole('button', { name: 'Add a passkey' }).count()).toBe(0);
    const csrf = (await page.locator('input[name="csrf"]').first().getAttribute('value')) ?? '';
    const options = await page.request.post(`${server.issuer}/account/passkeys/options`, { form: { csrf }, headers: { origin: server.issuer } });
    expect(options.status()).toBe(403);
    await page.getByRole('link', { name: 'Sign in again' }).click();
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Add a passkey' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/account/passkeys');

    await page.getByText('Rename or remove').click();
    await page.getByLabel('New name for Test laptop').fill('Old laptop');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByText('The passkey is renamed.').waitFor();
    expect((await server.gatehouse.services.passkeys.list(user.account.id))[0]?.name).toBe('Old laptop');
    await page.getByText('Rename or remove').click();
    await page.getByLabel('New name for Old laptop').fill('Test laptop');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByText('The passkey is renamed.').waitFor();
    await page.getByText('Rename or remove').click();
    await page.getByLabel('Current password, to remove Test laptop').fill('wrong-password-123');
    await page.getByRole('button', { name: 'Remove Test laptop' }).click();
    await page.getByRole('alert').filter({ hasText: 'The current password is not right.' }).waitFor();
    expect(await server.gatehouse.services.passkeys.list(user.account.id)).toHaveLength(1);
    await page.getByText('Rename or remove').click();
    await page.getByLabel('Current password, to remove Test laptop').fill(user.password);
    await page.getByRole('button', { name: 'Remove Test laptop' }).click();
    await page.getByText('The passkey is removed.').waitFor();
    expect(await server.gatehouse.services.passkeys.list(user.account.id)).toHaveLength(0);
  });

  it('kept the login and account pages free of Content-Security-Policy violations', () => {
    expect(cspViolations).toEqual([]);
  });
});
