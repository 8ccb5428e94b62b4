/**
 * MFA-3 step-up and policy: `acr_values` asking for multi-factor inside a live password session
 * asks for the second factor only; `max_age` asks for the whole sign-in again; the ID token says
 * what happened. A client registered with `require_mfa: true`, or named by REQUIRE_MFA_FOR, makes
 * a user without a second factor enrol one at that sign-in; so does an essential acr.
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA, ACR_PASSWORD, ACR_PHISHING_RESISTANT } from '../../src/accounts/authentication-context.js';
import { clientMetadataSchema } from '../../src/clients/schema.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { HttpBrowser } from '../support/browser-over-http.js';
import { REDIRECT_URI, registerApi, registerClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { discoverClient, signInAndRedeem } from '../support/sign-in.js';
import { currentStep, totpCode } from '../support/totp.js';

let storage: TestStorage;
let server: TestServer;
let spa: oidc.Configuration;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage, { REQUIRE_MFA_FOR: 'listed-spa, other' });
  await registerApi(server);
  await registerSpaClient(server);
  const strict = { token_endpoint_auth_method: 'none' as const, redirect_uris: [REDIRECT_URI], scope: 'openid' };
  await registerClient(server, { client_id: 'strict-spa', client_name: 'Strict SPA', require_mfa: true, ...strict });
  await registerClient(server, { client_id: 'listed-spa', client_name: 'Listed SPA', ...strict });
  spa = await discoverClient(server, 'spa');
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

const keyOf = (page: string) => (/id="totp-key"[^>]*>([^<]+)</.exec(page)?.[1] ?? '').replace(/\s+/g, '');
/** Answers the code page with the next code of `secret`, or the enrolment page with a code of the key it shows. */
const answerWith = (secrets: { secret?: string }) => (page: string) => {
  if (page.includes('/enrol"')) {
    secrets.secret = keyOf(page);
    return { code: totpCode(secrets.secret) };
  }
  return { code: totpCode(secrets.secret ?? '', currentStep() + 1) };
};

describe('MFA-3 step-up inside a live session', () => {
  it('acr_values for multi-factor asks a password session for the second factor only, then says mfa', async () => {
    const user = await registerUser(server, 'ivan');
    const browser = new HttpBrowser();
    const first = await signInAndRedeem(server, spa, user, {}, browser);
    expect(first.tokens.claims()).toMatchObject({ acr: ACR_PASSWORD, amr: ['pwd'] });

    // The user sets up an authenticator app later, in the same session.
    const factors = server.gatehouse.services.factors;
    const secret = await factors.startTotpEnrolment(user.account.id);
    await factors.confirmTotp(user.account.id, totpCode(secret));

    const pages: string[] = [];
    const stepped = await signInAndRedeem(
      server,
      spa,
      { ...user, password: 'the password is not asked for', secondFactor: (page) => (pages.push(page), { code: totpCode(secret, currentStep() + 1) }) },
      { acr_values: ACR_MFA },
      browser,
    );
    expect(pages).toHaveLength(1);
    expect(pages[0]).toContain('asks you to confirm it is you');
    expect(stepped.tokens.claims()).toMatchObject({ sub: user.account.id, acr: ACR_MFA, amr: ['pwd', 'otp'] });

    // Once stepped up, the session is multi-factor: asking again needs no page at all.
    const again = await signInAndRedeem(server, spa, { ...user, password: 'not asked' }, { acr_values: ACR_MFA }, browser);
    expect(again.tokens.claims()?.acr).toBe(ACR_MFA);
  });

  it('a code-only step-up of a stale session does not make it a recent sign-in (SESS-10)', async () => {
    const user = await registerUser(server, 'ivy');
    const browser = new HttpBrowser();
    await signInAndRedeem(server, spa, user, {}, browser);
    // The session (a stolen cookie, say) signed in an hour ago.
    await server.gatehouse.services.db.knex.raw(
      "UPDATE oidc_records SET payload = jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch from now())::int - 3600)) WHERE model = 'Session' AND account_id = ?",
      [user.account.id],
    );
    const factors = server.gatehouse.services.factors;
    const secret = await factors.startTotpEnrolment(user.account.id);
    await factors.confirmTotp(user.account.id, totpCode(secret));
    const stepped = await signInAndRedeem(
      server,
      spa,
      { ...user, password: 'not asked', secondFactor: () => ({ code: totpCode(secret, currentStep() + 1) }) },
      { acr_values: ACR_MFA, max_age: '86400' },
      browser,
    );
    expect(stepped.tokens.claims()?.acr).toBe(ACR_MFA);
    // A code is not a fresh sign-in: auth_time stays the password's.
    expect(Number(stepped.tokens.claims()?.auth_time)).toBeLessThan(Date.now() / 1000 - 3000);
    // Adding a passkey still asks for a fresh sign-in.
    const page = await (await browser.request(`${server.issuer}/account/passkeys`)).text();
    expect(page).toContain('prompt=login');
    const options = await browser.request(`${server.issuer}/account/passkeys/options`, { form: { csrf: /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '' } });
    expect(options.status).toBe(403);
  });

  it('max_age asks for the whole sign-in again (password, then code) and auth_time moves', async () => {
    const user = await registerUser(server, 'judy');
    const secrets = { secret: '' };
    const factors = server.gatehouse.services.factors;
    secrets.secret = await factors.startTotpEnrolment(user.account.id);
    await factors.confirmTotp(user.account.id, totpCode(secrets.secret, currentStep() - 1));
    const browser = new HttpBrowser();
    const first = await signInAndRedeem(server, spa, { ...user, secondFactor: () => ({ code: totpCode(secrets.secret) }) }, { max_age: '3600' }, browser);
    expect(first.tokens.claims()?.acr).toBe(ACR_MFA);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    let passwordAsked = false;
    const again = await signInAndRedeem(
      server,
      spa,
      {
        ...user,
        get password() {
          passwordAsked = true;
          return user.password;
        },
        secondFactor: () => ({ code: totpCode(secrets.secret, currentStep() + 1) }),
      },
      { max_age: '1' },
      browser,
    );
    expect(passwordAsked).toBe(true);
    expect(again.tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: ['pwd', 'otp'] });
    expect(Number(again.tokens.claims()?.auth_time)).toBeGreaterThan(Number(first.tokens.claims()?.auth_time));
  });

  it('a voluntary request for multi-factor from a user without a second factor keeps the session and says password', async () => {
    const user = await registerUser(server, 'kim');
    const browser = new HttpBrowser();
    const first = await signInAndRedeem(server, spa, user, { max_age: '3600' }, browser);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await signInAndRedeem(server, spa, { ...user, password: 'not asked' }, { acr_values: ACR_MFA, max_age: '3600' }, browser);
    expect(first.tokens.claims()?.auth_time).toEqual(expect.any(Number));
    expect(again.tokens.claims()).toMatchObject({ acr: ACR_PASSWORD, amr: ['pwd'], auth_time: first.tokens.claims()?.auth_time });
  });
});

describe('MFA-3 policies force enrolment', () => {
  it('a require_mfa client makes a user without a second factor set one up at sign-in', async () => {
    const user = await registerUser(server, 'lena');
    const secrets: { secret?: string } = {};
    const strict = await discoverClient(server, 'strict-spa');
    const { tokens } = await signInAndRedeem(server, strict, { ...user, secondFactor: answerWith(secrets) });
    expect(tokens.claims()).toMatchObject({ sub: user.account.id, acr: ACR_MFA, amr: ['pwd', 'otp'] });
    expect(await server.gatehouse.services.factors.hasTotp(user.account.id)).toBe(true);
    expect((await server.gatehouse.services.factors.status(user.account.id)).recoveryCodesLeft).toBe(10);
    // Next time the same app asks for the code, not for enrolment.
    const next = await signInAndRedeem(server, strict, { ...user, secondFactor: answerWith(secrets) });
    expect(next.tokens.claims()?.acr).toBe(ACR_MFA);
  });

  it('a require_mfa client steps up a live password session of another app', async () => {
    const user = await registerUser(server, 'mona');
    const browser = new HttpBrowser();
    await signInAndRedeem(server, spa, user, {}, browser);
    const secrets: { secret?: string } = {};
    const pages: string[] = [];
    const strict = await discoverClient(server, 'strict-spa');
    let passwordAsked = false;
    const { tokens } = await signInAndRedeem(
      server,
      strict,
      {
        ...user,
        // Setting up a second factor needs the password, not just the session cookie.
        get password() {
          passwordAsked = true;
          return user.password;
        },
        secondFactor: (page) => (pages.push(page), answerWith(secrets)(page)),
      },
      {},
      browser,
    );
    expect(passwordAsked).toBe(true);
    expect(pages[0]).toContain('Strict SPA</strong> requires two-step verification');
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: ['pwd', 'otp'] });
  });

  it('a session cookie alone cannot set up a second factor: a step-up for a user without one asks for the password', async () => {
    const user = await registerUser(server, 'mallory-victim');
    const browser = new HttpBrowser();
    await signInAndRedeem(server, spa, user, {}, browser);
    const claims = JSON.stringify({ id_token: { acr: { essential: true, value: ACR_MFA } } });
    const pages: string[] = [];
    const holder = { username: user.username, password: 'the cookie holder does not know it', secondFactor: (page: string) => (pages.push(page), answerWith({})(page)) };
    for (const [client, params] of [[spa, { claims }], [await discoverClient(server, 'strict-spa'), {}]] as const) {
      await expect(signInAndRedeem(server, client, holder, params, browser)).rejects.toThrow(/did not reach the client/);
    }
    expect(pages).toEqual([]);
    expect(await server.gatehouse.services.factors.hasTotp(user.account.id)).toBe(false);
    expect(await server.gatehouse.services.factors.pendingTotpSecret(user.account.id)).toBeUndefined();
  });

  it('an operator marking a user as needing multi-factor steps up their live password session at the next request', async () => {
    const user = await registerUser(server, 'rita');
    const browser = new HttpBrowser();
    expect((await signInAndRedeem(server, spa, user, {}, browser)).tokens.claims()?.acr).toBe(ACR_PASSWORD);
    await server.gatehouse.services.factors.setRequired(user.account.id, true);
    let passwordAsked = false;
    const { tokens } = await signInAndRedeem(
      server,
      spa,
      {
        ...user,
        get password() {
          passwordAsked = true;
          return user.password;
        },
        secondFactor: answerWith({}),
      },
      {},
      browser,
    );
    // No second factor yet: the password again, then enrolment (never from the cookie alone).
    expect(passwordAsked).toBe(true);
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: ['pwd', 'otp'] });
  });

  it('REQUIRE_MFA_FOR names clients whose sign-ins must be multi-factor', async () => {
    const user = await registerUser(server, 'nora');
    const listed = await discoverClient(server, 'listed-spa');
    const { tokens } = await signInAndRedeem(server, listed, { ...user, secondFactor: answerWith({}) });
    expect(tokens.claims()?.acr).toBe(ACR_MFA);
    // Other clients are not affected.
    const plain = await registerUser(server, 'olga');
    expect((await signInAndRedeem(server, spa, plain)).tokens.claims()?.acr).toBe(ACR_PASSWORD);
  });

  it('an essential multi-factor acr (claims parameter) makes the user enrol rather than fail or downgrade', async () => {
    const user = await registerUser(server, 'paula');
    const claims = JSON.stringify({ id_token: { acr: { essential: true, values: [ACR_MFA] } } });
    const { tokens } = await signInAndRedeem(server, spa, { ...user, secondFactor: answerWith({}) }, { claims });
    expect(tokens.claims()?.acr).toBe(ACR_MFA);
  });

  it('an essential acr the second factor given cannot meet ends with unmet_authentication_requirements, not the same step again', async () => {
    // Asks for a passkey sign-in (phr) from a user who then enrols an app and signs in with a code
    // (mfa): the engine's essential-acr check would prompt again, and the code step would repeat.
    const user = await registerUser(server, 'rhea');
    const claims = JSON.stringify({ id_token: { acr: { essential: true, values: [ACR_PHISHING_RESISTANT] } } });
    const url = oidc.buildAuthorizationUrl(spa, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      claims,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 's',
    });
    const callback = await new HttpBrowser().authorize(url, server.issuer, { ...user, secondFactor: answerWith({}) });
    expect(callback.searchParams.get('error')).toBe('unmet_authentication_requirements');
  });

  it('prompt=none cannot step up silently: login_required', async () => {
    const user = await registerUser(server, 'quinn');
    const browser = new HttpBrowser();
    await signInAndRedeem(server, spa, user, {}, browser);
    const url = oidc.buildAuthorizationUrl(spa, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      prompt: 'none',
      acr_values: ACR_MFA,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 's',
    });
    const { url: callback } = await browser.follow(url, server.issuer);
    expect(callback.searchParams.get('error')).toBe('login_required');
  });
});

describe('MFA-3 settings', () => {
  it('REQUIRE_MFA_FOR accepts none, all or client ids, and names a bad value', () => {
    expect(loadConfig({ REQUIRE_MFA_FOR: 'none' }).mfa.requireFor).toEqual([]);
    expect(loadConfig({}).mfa.requireFor).toEqual([]);
    expect(loadConfig({ REQUIRE_MFA_FOR: 'all' }).mfa.requireFor).toBe('all');
    expect(loadConfig({ REQUIRE_MFA_FOR: 'a, b' }).mfa.requireFor).toEqual(['a', 'b']);
    expect(() => loadConfig({ REQUIRE_MFA_FOR: 'a;b' })).toThrow(ConfigError);
  });

  it('require_mfa is client metadata: a boolean', () => {
    expect(clientMetadataSchema.safeParse({ client_id: 'x', require_mfa: true, token_endpoint_auth_method: 'none' }).success).toBe(true);
    expect(clientMetadataSchema.safeParse({ client_id: 'x', require_mfa: 'yes' }).success).toBe(false);
  });
});
