/**
 * MFA-2 sign-in: after the password, an account with an authenticator app is asked for a code
 * (or a recovery code) in the same interaction; the ID token then says acr
 * urn:gatehouse:acr:mfa and amr ["pwd","otp"]. A code is accepted once, a recovery code once,
 * the password step cannot be skipped, attempts are throttled, and no code reaches the log.
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA, ACR_PASSWORD } from '../../src/accounts/authentication-context.js';
import { HttpBrowser } from '../support/browser-over-http.js';
import { REDIRECT_URI, registerApi, registerClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { discoverClient, signInAndRedeem } from '../support/sign-in.js';
import { currentStep, totpCode } from '../support/totp.js';

let storage: TestStorage;
let server: TestServer;
let spa: oidc.Configuration;
let user: { username: string; password: string; account: { id: string } };
let secret: string;
let recoveryCodes: string[];

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage, { LOGIN_FREE_FAILURES_PER_ACCOUNT_IP: '3' });
  await registerApi(server);
  await registerSpaClient(server);
  spa = await discoverClient(server, 'spa');
  user = await registerUser(server, 'frank');
  const factors = server.gatehouse.services.factors;
  secret = await factors.startTotpEnrolment(user.account.id);
  recoveryCodes = (await factors.confirmTotp(user.account.id, totpCode(secret))) ?? [];
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

/** Opens an authorization request and gives the password; returns the page that follows. */
async function afterPassword(browser: HttpBrowser, username = user.username, password = user.password): Promise<{ uid: string; status: number; html: string }> {
  const url = oidc.buildAuthorizationUrl(spa, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: 'x',
  });
  const login = await browser.follow(url, server.issuer);
  const uid = login.url.pathname.split('/')[2] ?? '';
  const next = await browser.follow(`${server.issuer}/interaction/${uid}/login`, server.issuer, { form: { username, password } });
  return { uid, status: next.page?.status ?? 0, html: (await next.page?.text()) ?? '' };
}

async function submitSecondFactor(browser: HttpBrowser, uid: string, form: Record<string, string>) {
  const response = await browser.request(`${server.issuer}/interaction/${uid}/second-factor`, { form });
  return { status: response.status, location: response.headers.get('location'), html: await response.text(), retryAfter: response.headers.get('retry-after') };
}

describe('MFA-2 TOTP as a second factor', () => {
  it('asks for the code after a correct password, in the same interaction, and only then signs in', async () => {
    const browser = new HttpBrowser();
    const page = await afterPassword(browser);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Two-step verification');
    expect(page.html).toContain('autocomplete="one-time-code"');
    // The password alone made no session.
    const account = await fetch(`${server.issuer}/account`, { headers: { cookie: browser.jar.header(new URL(`${server.issuer}/account`)) }, redirect: 'manual' });
    expect(account.status).toBe(303);
  });

  it('puts acr urn:gatehouse:acr:mfa and amr ["pwd","otp"] in the ID token', async () => {
    const { tokens } = await signInAndRedeem(server, spa, { ...user, secondFactor: () => ({ code: totpCode(secret, currentStep() + 1) }) });
    expect(tokens.claims()).toMatchObject({ sub: user.account.id, acr: ACR_MFA, amr: ['pwd', 'otp'] });
  });

  it('refuses a code that was already used, even in a new sign-in, and says so without signing in', async () => {
    const browser = new HttpBrowser();
    const { uid } = await afterPassword(browser);
    const replay = await submitSecondFactor(browser, uid, { code: totpCode(secret, currentStep() + 1) });
    expect(replay.status).toBe(401);
    expect(replay.html).toContain('already used');
    expect(replay.location).toBeNull();
  });

  it('accepts a recovery code instead, once', async () => {
    const [code] = recoveryCodes as [string];
    const { tokens } = await signInAndRedeem(server, spa, { ...user, secondFactor: () => ({ recovery_code: code }) });
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: ['pwd', 'otp'] });
    const browser = new HttpBrowser();
    const { uid } = await afterPassword(browser);
    const again = await submitSecondFactor(browser, uid, { recovery_code: code });
    expect(again.status).toBe(401);
    expect(again.html).toContain('recovery code is not right, or it was already used');
  });

  it('cannot skip the password: a code for an interaction without a password step is refused', async () => {
    const browser = new HttpBrowser();
    const url = oidc.buildAuthorizationUrl(spa, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 'x',
    });
    const login = await browser.follow(url, server.issuer);
    const uid = login.url.pathname.split('/')[2] ?? '';
    const skipped = await submitSecondFactor(browser, uid, { code: totpCode(secret) });
    expect(skipped.status).toBe(400);
    expect(skipped.location).toBeNull();
    // Another browser cannot use this browser's password step either.
    const mine = new HttpBrowser();
    const { uid: myUid } = await afterPassword(mine);
    const stranger = await submitSecondFactor(new HttpBrowser(), myUid, { code: totpCode(secret) });
    expect(stranger.status).toBe(400);
  });

  it('refuses unknown or doubled fields with 400', async () => {
    const browser = new HttpBrowser();
    const { uid } = await afterPassword(browser);
    expect((await submitSecondFactor(browser, uid, { code: '123456', recovery_code: 'AAAAA-AAAAA' })).status).toBe(400);
    expect((await submitSecondFactor(browser, uid, { code: '123456', extra: '1' })).status).toBe(400);
  });

  it('API-2 throttles wrong codes like wrong passwords, with Retry-After', async () => {
    const browser = new HttpBrowser();
    const { uid } = await afterPassword(browser);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const answer = await submitSecondFactor(browser, uid, { code: '000000' === totpCode(secret) ? '111111' : '000000' });
      statuses.push(answer.status);
      retryAfter ??= answer.retryAfter;
    }
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });

  it('FLOW-9: a retry page of a native app\'s sign-in still lets the redirect to its loopback port through', async () => {
    await registerClient(server, { client_id: 'native-mfa', application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1/cb'], scope: 'openid' });
    const native = await discoverClient(server, 'native-mfa');
    // A user of its own: the throttling test above has spent this address's allowance for frank.
    const nadia = await registerUser(server, 'nadia');
    await server.gatehouse.services.factors.confirmTotp(nadia.account.id, totpCode(await server.gatehouse.services.factors.startTotpEnrolment(nadia.account.id)));
    const browser = new HttpBrowser();
    const url = oidc.buildAuthorizationUrl(native, {
      redirect_uri: 'http://127.0.0.1:53682/cb',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const login = await browser.follow(url, server.issuer);
    const uid = login.url.pathname.split('/')[2] ?? '';
    await browser.follow(`${server.issuer}/interaction/${uid}/login`, server.issuer, { form: { username: nadia.username, password: nadia.password } });
    const wrong = await browser.request(`${server.issuer}/interaction/${uid}/second-factor`, { form: { code: '000000' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('content-security-policy')).toMatch(/form-action [^;]*http:\/\/127\.0\.0\.1:53682/);
  });

  it('counts second-factor results in the metrics', async () => {
    const metrics = await (await fetch(server.gatehouse.metricsUrl ?? '')).text();
    expect(metrics).toMatch(/gatehouse_second_factor_total\{method="totp",result="ok"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_second_factor_total\{method="recovery_code",result="ok"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_second_factor_total\{method="totp",result="failed"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_second_factor_total\{method="totp",result="throttled"\} [1-9]/);
  });

  it('never writes a code, a recovery code or the secret to the log', () => {
    const log = server.logs.join('\n');
    expect(log).toContain('second_factor_succeeded');
    expect(log).toContain('second_factor_failed');
    for (const code of recoveryCodes) expect(log).not.toContain(code);
    expect(log).not.toContain(secret);
    for (const step of [-2, -1, 0, 1]) expect(log).not.toContain(`"${totpCode(secret, currentStep() + step)}"`);
  });
});

describe('FLOW-10 password-only accounts', () => {
  it('an account without a second factor still signs in with the password alone', async () => {
    const plain = await registerUser(server, 'gina');
    const { tokens } = await signInAndRedeem(server, spa, plain);
    expect(tokens.claims()).toMatchObject({ acr: ACR_PASSWORD, amr: ['pwd'] });
  });
});
