/**
 * State lives in the database: a restarted server (same database, same secret) keeps its keys,
 * the browser's session and the client's refresh token. Run on PostgreSQL and on PGlite.
 */
import * as oidc from 'openid-client';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { REDIRECT_URI, registerApi, registerServiceClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

describe.each(['postgres', 'embedded'] as const)('restart on the same %s database', (kind) => {
  let storage: TestStorage;
  let server: TestServer | undefined;

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  it('keeps keys, sessions and refresh tokens, and serves both flows', async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    await registerApi(server);
    await registerSpaClient(server);
    const service = await registerServiceClient(server);
    const user = await registerUser(server);
    const port = new URL(server.issuer).port;
    const env = { PORT: port, ISSUER: server.issuer };

    const discover = (clientId: string, auth: oidc.ClientAuth) =>
      oidc.discovery(new URL(server?.issuer ?? ''), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
    const spa = await discover('spa', oidc.None());
    const verifier = oidc.randomPKCECodeVerifier();
    const challenge = await oidc.calculatePKCECodeChallenge(verifier);
    const browser = new HttpBrowser();
    const authorize = (extra: Record<string, string> = {}) =>
      oidc.buildAuthorizationUrl(spa, { redirect_uri: REDIRECT_URI, scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256', state: 'st', ...extra });
    const callback = await browser.authorize(authorize(), server.issuer, user);
    const tokens = await oidc.authorizationCodeGrant(spa, callback, { pkceCodeVerifier: verifier, expectedState: 'st' });
    const jwksBefore = await (await fetch(`${server.issuer}/jwks`)).json();
    const cc = await oidc.clientCredentialsGrant(await discover(service.clientId, oidc.ClientSecretBasic(service.secret)), { scope: 'things:read' });

    await server.stop();
    server = await startTestServer(storage, env);

    expect(await (await fetch(`${server.issuer}/jwks`)).json()).toEqual(jwksBefore);
    const silent = await browser.follow(authorize({ prompt: 'none' }), server.issuer);
    expect(silent.url.searchParams.get('code')).toEqual(expect.any(String));
    const refreshed = await oidc.refreshTokenGrant(spa, tokens.refresh_token ?? '');
    expect(refreshed.access_token).toEqual(expect.any(String));
    const serviceClient = await discover(service.clientId, oidc.ClientSecretBasic(service.secret));
    expect((await oidc.tokenIntrospection(serviceClient, cc.access_token)).active).toBe(true);
  });
});
