import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { API, REDIRECT_URI, registerApi, registerClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let user: { username: string; password: string; account: { id: string } };
let spa: oidc.Configuration;

async function pkce() {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier) };
}

/** Runs the whole front channel and returns the redirect back to the client. */
async function signIn(params: Record<string, string> = {}, config = spa) {
  const { verifier, challenge } = await pkce();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  const browser = new HttpBrowser();
  const callback = await browser.authorize(url, server.issuer, user);
  return { callback, verifier, state, nonce, browser };
}

async function redeem(config: oidc.Configuration, flow: Awaited<ReturnType<typeof signIn>>) {
  return oidc.authorizationCodeGrant(config, flow.callback, {
    pkceCodeVerifier: flow.verifier,
    expectedState: flow.state,
    expectedNonce: flow.nonce,
  });
}

async function errorOf(response: Response): Promise<string | undefined> {
  return ((await response.json()) as { error?: string }).error;
}

function rawTokenRequest(body: Record<string, string>) {
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });
}

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  await registerSpaClient(server);
  user = await registerUser(server);
  spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

describe('FLOW-1 Authorization Code + PKCE through the login and consent pages', () => {
  it('signs in, consents, and returns a verified ID token with claims per scope', async () => {
    const flow = await signIn();
    expect(flow.callback.origin + flow.callback.pathname).toBe(REDIRECT_URI);
    expect(flow.callback.searchParams.get('iss')).toBe(server.issuer);
    const tokens = await redeem(spa, flow);
    const claims = tokens.claims();
    expect(claims?.sub).toBe(user.account.id);
    expect(claims?.nonce).toBe(flow.nonce);
    const { protectedHeader } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
      issuer: server.issuer,
      audience: 'spa',
      algorithms: ['RS256'],
    });
    // FLOW-6 (issue 12): ID tokens default to RS256 (OIDC Registration §2); they were ES256.
    expect(protectedHeader.alg).toBe('RS256');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const refreshInfo = await oidc.tokenIntrospection(spa, tokens.refresh_token ?? '');
    expect((refreshInfo.exp ?? 0) - (refreshInfo.iat ?? 0)).toBe(7 * 24 * 3600);
    expect(tokens.expires_in).toBe(900);

    const userinfo = await oidc.fetchUserInfo(spa, tokens.access_token, user.account.id);
    expect(userinfo).toMatchObject({ sub: user.account.id, preferred_username: 'alice', name: 'Alice Example', email: 'alice@example.com', email_verified: true });
  });

  it('answers userinfo over POST as well as GET', async () => {
    const tokens = await redeem(spa, await signIn({ scope: 'openid email' }));
    const response = await fetch(`${server.issuer}/me`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: tokens.access_token }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: user.account.id, email: 'alice@example.com', email_verified: true });
  });

  it('asks for the password again with prompt=login even when signed in', async () => {
    const flow = await signIn();
    const { challenge } = await pkce();
    const again = await flow.browser.follow(
      oidc.buildAuthorizationUrl(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', prompt: 'login', code_challenge: challenge, code_challenge_method: 'S256', state: 's' }),
      server.issuer,
    );
    expect(again.url.pathname).toMatch(/^\/interaction\//);
    expect(await again.page?.text()).toContain('name="password"');
  });

  it('gives only the claims of the granted scopes', async () => {
    const flow = await signIn({ scope: 'openid' });
    const tokens = await redeem(spa, flow);
    const userinfo = await oidc.fetchUserInfo(spa, tokens.access_token, user.account.id);
    expect(Object.keys(userinfo)).toEqual(['sub']);
  });

  it('FLOW-3 issues a JWT access token for a registered API requested with resource', async () => {
    const flow = await signIn({ scope: 'openid things:read', resource: API });
    const tokens = await redeem(spa, flow);
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
      issuer: server.issuer,
      audience: API,
      algorithms: ['ES256'],
      typ: 'at+jwt',
    });
    expect(payload.sub).toBe(user.account.id);
    expect(payload['scope']).toBe('things:read');
  });

  it('rejects the plain PKCE method', async () => {
    const url = oidc.buildAuthorizationUrl(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain', state: 's' });
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });

  it('rejects a request without PKCE, for a public client', async () => {
    const url = oidc.buildAuthorizationUrl(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's' });
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  // FLOW-1 changed (issue 12): the opt-out exempts the client fully; a nonce stays optional (OIDC Core 3.1.2.1).
  it('rejects a request without PKCE for a confidential client too, unless it opted out', async () => {
    const secret = 's'.repeat(40);
    await registerClient(server, { client_id: 'strict-web', client_secret: secret, redirect_uris: [REDIRECT_URI], scope: 'openid' });
    await registerClient(server, { client_id: 'legacy-web', client_secret: secret, redirect_uris: [REDIRECT_URI], scope: 'openid', require_pkce: false });
    const discover = (id: string) => oidc.discovery(new URL(server.issuer), id, undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
    const strict = await discover('strict-web');
    const legacy = await discover('legacy-web');
    const errorOf = async (config: oidc.Configuration, params: Record<string, string>) => {
      const response = await fetch(oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's', ...params }), { redirect: 'manual' });
      return new URL(response.headers.get('location') ?? '', server.issuer).searchParams.get('error');
    };
    expect(await errorOf(strict, { nonce: 'n-1' })).toBe('invalid_request');
    expect(await errorOf(legacy, {})).toBeNull();
    expect(await errorOf(legacy, { nonce: 'n-2' })).toBeNull();
  });

  it('FLOW-7 shows an error page and never redirects to an unregistered redirect URI', async () => {
    const { challenge } = await pkce();
    const url = oidc.buildAuthorizationUrl(spa, { redirect_uri: 'https://evil.example/callback', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 's' });
    const response = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const page = await response.text();
    expect(page).toContain('return address');
    expect(page).not.toContain('evil.example');
    expect(page).not.toMatch(/at .*\.js:\d+/);
  });

  it('rejects a near-miss redirect URI (exact matching)', async () => {
    const { challenge } = await pkce();
    const url = oidc.buildAuthorizationUrl(spa, { redirect_uri: `${REDIRECT_URI}/`, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 's' });
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('tells a wrong password without saying whether the account exists', async () => {
    const { challenge } = await pkce();
    const url = oidc.buildAuthorizationUrl(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 's' });
    const browser = new HttpBrowser();
    const first = await browser.follow(url, server.issuer);
    const uid = first.url.pathname.split('/')[2];
    const wrongPassword = await browser.request(`${server.issuer}/interaction/${uid}/login`, { form: { username: 'alice', password: 'wrong-password-123' } });
    const unknownUser = await browser.request(`${server.issuer}/interaction/${uid}/login`, { form: { username: 'nobody', password: 'wrong-password-123' } });
    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(401);
    const normalise = (html: string) => html.replace(/value="[^"]*"/g, '');
    expect(normalise(await wrongPassword.text())).toBe(normalise(await unknownUser.text()));
  });
});

describe('FLOW-4 refresh tokens', () => {
  it('rotates on every use; reusing an old one is invalid_grant and revokes the whole grant', async () => {
    const first = await redeem(spa, await signIn());
    const second = await oidc.refreshTokenGrant(spa, first.refresh_token ?? '');
    expect(second.refresh_token).toBeDefined();
    expect(second.refresh_token).not.toBe(first.refresh_token);

    const reuse = await rawTokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token ?? '', client_id: 'spa' });
    expect(reuse.status).toBe(400);
    expect(await errorOf(reuse)).toBe('invalid_grant');

    const afterRevocation = await rawTokenRequest({ grant_type: 'refresh_token', refresh_token: second.refresh_token ?? '', client_id: 'spa' });
    expect(afterRevocation.status).toBe(400);
    expect(await errorOf(afterRevocation)).toBe('invalid_grant');
    const introspection = await oidc.tokenIntrospection(spa, second.access_token);
    expect(introspection.active).toBe(false);
  });

  it('lets exactly one of two parallel redemptions of one refresh token succeed, and revokes the grant', async () => {
    const tokens = await redeem(spa, await signIn());
    const attempts = await Promise.all(
      Array.from({ length: 4 }, () => rawTokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '', client_id: 'spa' })),
    );
    const statuses = attempts.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 400)).toHaveLength(3);
    const winner = (await attempts.find((response) => response.status === 200)?.json()) as { refresh_token: string };
    const next = await rawTokenRequest({ grant_type: 'refresh_token', refresh_token: winner.refresh_token, client_id: 'spa' });
    expect(await errorOf(next)).toBe('invalid_grant');
  });
});

describe('authorization code redemption', () => {
  it('rejects a second use of a code with invalid_grant and revokes what the first use issued', async () => {
    const flow = await signIn();
    const tokens = await redeem(spa, flow);
    const code = flow.callback.searchParams.get('code') ?? '';
    const again = await rawTokenRequest({ grant_type: 'authorization_code', code, code_verifier: flow.verifier, redirect_uri: REDIRECT_URI, client_id: 'spa' });
    expect(again.status).toBe(400);
    expect(await errorOf(again)).toBe('invalid_grant');
    expect((await oidc.tokenIntrospection(spa, tokens.access_token)).active).toBe(false);
  });

  it('lets exactly one of parallel redemptions of one code succeed', async () => {
    const flow = await signIn();
    const code = flow.callback.searchParams.get('code') ?? '';
    const attempts = await Promise.all(
      Array.from({ length: 4 }, () =>
        rawTokenRequest({ grant_type: 'authorization_code', code, code_verifier: flow.verifier, redirect_uri: REDIRECT_URI, client_id: 'spa' }),
      ),
    );
    const statuses = attempts.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 400)).toHaveLength(3);
  });

  it('rejects a wrong code_verifier', async () => {
    const flow = await signIn();
    const code = flow.callback.searchParams.get('code') ?? '';
    const response = await rawTokenRequest({ grant_type: 'authorization_code', code, code_verifier: oidc.randomPKCECodeVerifier(), redirect_uri: REDIRECT_URI, client_id: 'spa' });
    expect(await errorOf(response)).toBe('invalid_grant');
  });
});

describe('FLOW-6 RP-initiated logout', () => {
  it('ends the session: prompt=none afterwards answers login_required', async () => {
    const flow = await signIn();
    const tokens = await redeem(spa, flow);
    const { browser } = flow;
    const { challenge } = await pkce();
    const silent = () =>
      browser.follow(
        oidc.buildAuthorizationUrl(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256', state: 's' }),
        server.issuer,
      );
    expect((await silent()).url.searchParams.get('code')).toEqual(expect.any(String));

    const endSession = oidc.buildEndSessionUrl(spa, { id_token_hint: tokens.id_token ?? '', post_logout_redirect_uri: 'https://app.test.example/' });
    const confirm = await browser.follow(endSession, server.issuer);
    const html = await confirm.page?.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html ?? '')?.[1];
    expect(xsrf).toBeDefined();
    const done = await browser.follow(`${server.issuer}/session/end/confirm`, server.issuer, { form: { xsrf: xsrf ?? '', logout: 'yes' } });
    expect(done.url.href).toBe('https://app.test.example/');
    expect((await silent()).url.searchParams.get('error')).toBe('login_required');
  });
});
