/** One relying party's front channel and code exchange, for tests that need a signed-in user's tokens. */
import * as oidc from 'openid-client';
import { HttpBrowser } from './browser-over-http.js';
import { REDIRECT_URI } from './fixtures.js';
import type { TestServer } from './server.js';

export async function discoverClient(server: TestServer, clientId: string, secret?: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(server.issuer), clientId, undefined, secret ? oidc.ClientSecretBasic(secret) : oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
}

export interface SignedIn {
  readonly callback: URL;
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
  readonly browser: HttpBrowser;
  readonly tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
}

/** Authorization Code + PKCE with `params`, through the login and consent pages, then the code exchange. */
export async function signInAndRedeem(
  server: TestServer,
  config: oidc.Configuration,
  user: { username: string; password: string; secondFactor?: (page: string) => Record<string, string> },
  params: Record<string, string> = {},
  browser = new HttpBrowser(),
  /** For a sender-constrained exchange (DPoP). */
  exchange?: oidc.DPoPOptions,
): Promise<SignedIn> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  const callback = await browser.authorize(url, server.issuer, user);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, undefined, exchange);
  return { callback, verifier, state, nonce, browser, tokens };
}
