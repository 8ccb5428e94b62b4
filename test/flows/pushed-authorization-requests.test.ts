/**
 * Pushed authorization requests (RFC 9126): the request goes to `/request` over an authenticated
 * back channel; the browser carries only a request_uri that lives 60 seconds and works once.
 * Mandatory per client (`require_pushed_authorization_requests`) or for all (REQUIRE_PAR).
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { HttpBrowser } from '../support/browser-over-http.js';
import { dpopKey } from '../support/dpop.js';
import { REDIRECT_URI, registerApi, registerClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let user: Awaited<ReturnType<typeof registerUser>>;
const webSecret = 'w'.repeat(43);

const discover = (target: TestServer, clientId: string, auth: oidc.ClientAuth) =>
  oidc.discovery(new URL(target.issuer), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function pkce() {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, params: { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' } };
}

function push(target: TestServer, params: Record<string, string>, auth?: string) {
  return fetch(`${target.issuer}/request`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
    body: new URLSearchParams(params),
  });
}

/** What the authorization endpoint does with `url` for a browser: a redirect back with `error: description`, or an error page's code. */
async function authorizationError(url: URL | string, browser = new HttpBrowser()): Promise<string | null> {
  const response = await browser.request(url);
  const location = response.headers.get('location');
  if (location && new URL(location, url).href.startsWith(REDIRECT_URI)) {
    const { searchParams } = new URL(location);
    return `${searchParams.get('error')}: ${searchParams.get('error_description')}`;
  }
  expect(response.status).toBe(400);
  expect(response.headers.get('location')).toBeNull();
  return /Error code:\s*([a-z_]+)/.exec((await response.text()).replace(/<[^>]+>/g, ' '))?.[1] ?? null;
}

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  await registerSpaClient(server);
  await registerClient(server, { client_id: 'web', client_secret: webSecret, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], scope: 'openid profile' });
  await registerClient(server, {
    client_id: 'par-only',
    token_endpoint_auth_method: 'none',
    redirect_uris: [REDIRECT_URI],
    scope: 'openid',
    require_pushed_authorization_requests: true,
  });
  user = await registerUser(server);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
  // Every refusal above was a 4xx chosen on purpose, not an engine failure.
  expect(server?.logs.join('')).not.toMatch(/provider server error/);
});

describe('RFC 9126 pushed authorization requests', () => {
  it('runs the whole flow for a confidential client that authenticates at the PAR endpoint', async () => {
    const web = await discover(server, 'web', oidc.ClientSecretBasic(webSecret));
    const { verifier, params } = await pkce();
    const url = await oidc.buildAuthorizationUrlWithPAR(web, { redirect_uri: REDIRECT_URI, scope: 'openid profile', state: 's1', ...params });
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const callback = await new HttpBrowser().authorize(url, server.issuer, user);
    const tokens = await oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: verifier, expectedState: 's1' });
    expect(tokens.claims()?.sub).toBe(user.account.id);
  });

  it('gives a request_uri that lives 60 seconds', async () => {
    const { params } = await pkce();
    const response = await push(server, { client_id: 'spa', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', ...params });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { request_uri: string; expires_in: number };
    expect(body.expires_in).toBe(60);
    expect(body.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  });

  it('refuses a confidential client with a wrong secret, and a request the authorization endpoint would refuse', async () => {
    const { params } = await pkce();
    const wrongSecret = await push(server, { response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', ...params }, basic('web', 'x'.repeat(43)));
    expect(wrongSecret.status).toBe(401);
    expect(((await wrongSecret.json()) as { error: string }).error).toBe('invalid_client');
    const unregistered = await push(server, { client_id: 'spa', response_type: 'code', redirect_uri: 'https://evil.example/cb', scope: 'openid', ...params });
    expect(unregistered.status).toBe(400);
    const withoutPkce = await push(server, { client_id: 'spa', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid' });
    expect(withoutPkce.status).toBe(400);
    expect(((await withoutPkce.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('uses a request_uri once', async () => {
    const spa = await discover(server, 'spa', oidc.None());
    const { verifier, params } = await pkce();
    const url = await oidc.buildAuthorizationUrlWithPAR(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's2', ...params });
    const browser = new HttpBrowser();
    const callback = await browser.authorize(url, server.issuer, user);
    await oidc.authorizationCodeGrant(spa, callback, { pkceCodeVerifier: verifier, expectedState: 's2' });
    expect(await authorizationError(url, browser)).toBe('invalid_request_uri');
  });

  it('issues one code when two authorization requests race for the same request_uri', async () => {
    const spa = await discover(server, 'spa', oidc.None());
    const browser = new HttpBrowser();
    // Signed in and consented once, the next authorization needs no page: it answers at once.
    const first = await pkce();
    await browser.authorize(await oidc.buildAuthorizationUrlWithPAR(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 'a', ...first.params }), server.issuer, user);
    const { params } = await pkce();
    const url = await oidc.buildAuthorizationUrlWithPAR(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 'b', ...params });
    const responses = await Promise.all([browser.request(url), browser.request(url), browser.request(url)]);
    const codes = responses.map((response) => response.headers.get('location') ?? '').filter((location) => location.startsWith(REDIRECT_URI) && new URL(location).searchParams.has('code'));
    expect(codes).toHaveLength(1);
    for (const response of responses) expect(response.status).toBeLessThan(500);
  });

  it('refuses a request_uri after its 60 seconds', async () => {
    const spa = await discover(server, 'spa', oidc.None());
    const { params } = await pkce();
    const url = await oidc.buildAuthorizationUrlWithPAR(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's3', ...params });
    const whileFresh = await fetch(url, { redirect: 'manual' });
    expect(whileFresh.status).toBe(303);
    expect(whileFresh.headers.get('location')).toMatch(/^\/interaction\//);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61_000 });
    try {
      expect(await authorizationError(url)).toBe('invalid_request_uri');
    } finally {
      vi.useRealTimers();
    }
  });

  it('makes pushing mandatory for a client registered with require_pushed_authorization_requests', async () => {
    const parOnly = await discover(server, 'par-only', oidc.None());
    const { verifier, params } = await pkce();
    const direct = oidc.buildAuthorizationUrl(parOnly, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's4', ...params });
    expect(await authorizationError(direct)).toBe('invalid_request: Pushed Authorization Request must be used');
    const pushed = await oidc.buildAuthorizationUrlWithPAR(parOnly, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's4', ...params });
    const callback = await new HttpBrowser().authorize(pushed, server.issuer, user);
    expect((await oidc.authorizationCodeGrant(parOnly, callback, { pkceCodeVerifier: verifier, expectedState: 's4' })).access_token).toBeTruthy();
  });

  it('binds the code to the DPoP key of the push (dpop_jkt)', async () => {
    const spa = await discover(server, 'spa', oidc.None());
    const key = await dpopKey();
    const { verifier, params } = await pkce();
    const url = await oidc.buildAuthorizationUrlWithPAR(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's5', ...params }, { DPoP: oidc.getDPoPHandle(spa, key) });
    const callback = await new HttpBrowser().authorize(url, server.issuer, user);
    await expect(
      oidc.authorizationCodeGrant(spa, callback, { pkceCodeVerifier: verifier, expectedState: 's5' }, undefined, { DPoP: oidc.getDPoPHandle(spa, await dpopKey()) }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('lets a registered browser origin push, and no other (CORS)', async () => {
    const response = await fetch(`${server.issuer}/request`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.test.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, dpop' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.test.example');
    expect(response.headers.get('access-control-allow-methods')).toBe('POST');
    const { params } = await pkce();
    const pushed = await fetch(`${server.issuer}/request`, {
      method: 'POST',
      headers: { origin: 'https://app.test.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'spa', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', ...params }),
    });
    expect(pushed.status).toBe(201);
    expect(pushed.headers.get('access-control-allow-origin')).toBe('https://app.test.example');
    const foreign = await fetch(`${server.issuer}/request`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'spa', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', ...params }),
    });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('advertises the endpoint, and does not claim PAR is required for everyone', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata['pushed_authorization_request_endpoint']).toBe(`${server.issuer}/request`);
    expect(metadata['require_pushed_authorization_requests']).toBeUndefined();
    expect(metadata['request_uri_parameter_supported']).toBe(false);
  });
});

describe('REQUIRE_PAR=true', () => {
  let strict: TestServer;
  let strictStorage: TestStorage;

  beforeAll(async () => {
    strictStorage = await createTestStorage('postgres');
    strict = await startTestServer(strictStorage, { REQUIRE_PAR: 'true', RATE_LIMIT_CLIENT_PER_MINUTE: '5', RATE_LIMIT_SYNC_MS: '0' });
    await registerApi(strict);
    await registerSpaClient(strict);
    await registerClient(strict, { client_id: 'busy', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT_URI], scope: 'openid' });
    user = await registerUser(strict);
  });

  afterAll(async () => {
    await strict?.stop();
    await strictStorage?.dispose();
  });

  it('is off unless set, and must be a boolean', () => {
    const base = { GATEHOUSE_DATA_DIR: '/tmp/unused' };
    expect(loadConfig(base).par.required).toBe(false);
    expect(loadConfig({ ...base, REQUIRE_PAR: 'true' }).par.required).toBe(true);
    expect(() => loadConfig({ ...base, REQUIRE_PAR: 'always' })).toThrow(ConfigError);
  });

  it('says so in discovery', async () => {
    const metadata = (await (await fetch(`${strict.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata['require_pushed_authorization_requests']).toBe(true);
  });

  it('refuses a direct authorization request and serves a pushed one', async () => {
    const spa = await discover(strict, 'spa', oidc.None());
    const { verifier, params } = await pkce();
    expect(await authorizationError(oidc.buildAuthorizationUrl(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's', ...params }))).toBe('invalid_request: Pushed Authorization Request must be used');
    const url = await oidc.buildAuthorizationUrlWithPAR(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's', ...params });
    const callback = await new HttpBrowser().authorize(url, strict.issuer, user);
    expect((await oidc.authorizationCodeGrant(spa, callback, { pkceCodeVerifier: verifier, expectedState: 's' })).access_token).toBeTruthy();
  });

  it('still signs people in to their account area (it pushes its own request)', async () => {
    const browser = new HttpBrowser();
    const start = await browser.request(`${strict.issuer}/account`);
    expect(start.status).toBe(303);
    const signIn = new URL(start.headers.get('location') ?? '', strict.issuer);
    expect([...signIn.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    let step = await browser.follow(signIn, strict.issuer);
    const uid = step.url.pathname.split('/')[2];
    step = await browser.follow(`${strict.issuer}/interaction/${uid}/login`, strict.issuer, { form: { username: user.username, password: user.password } });
    expect(step.url.pathname).toBe('/account');
    expect(step.page?.status).toBe(200);
  });

  it('counts pushes against the client\'s rate limit', async () => {
    const { params } = await pkce();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      statuses.push((await push(strict, { client_id: 'busy', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', ...params })).status);
    }
    expect(statuses.slice(0, 5)).toEqual([201, 201, 201, 201, 201]);
    expect(statuses[5]).toBe(429);
  });
});
