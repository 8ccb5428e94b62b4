/**
 * The account area signs people in the way any application does: through the authorization
 * endpoint, as a built-in first-party client. That keeps one login page, one session mechanism
 * (SESS-1) and every login policy in one place.
 */
import { randomBytes, createHash } from 'node:crypto';
import { UnsecuredJWT } from 'jose';
import type Provider from 'oidc-provider';

export const ACCOUNT_CLIENT_ID = 'gatehouse-account';

export function accountClientMetadata(issuer: string) {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'Your Gatehouse account',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${issuer}/account/callback`],
    scope: 'openid',
  } as const;
}

function signInParameters(issuer: string): Record<string, string> {
  // Only the provider session matters here: the code is never redeemed, so the verifier is dropped.
  const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
  return {
    client_id: ACCOUNT_CLIENT_ID,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: `${issuer}/account/callback`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('base64url'),
  };
}

/** Where to send a visitor without a session: a sign-in for the account client. */
export function accountSignInUrl(issuer: string): string {
  const url = new URL('/auth', issuer);
  url.search = new URLSearchParams(signInParameters(issuer)).toString();
  return url.toString();
}

// The engine's own limit for a pushed request's life.
const PUSHED_REQUEST_TTL = 60;

/**
 * The same sign-in when every authorization request must be pushed (REQUIRE_PAR): the request is
 * stored the way the engine's PAR endpoint stores one from a public client, and the browser
 * carries only its request_uri.
 */
export async function pushedAccountSignInUrl(provider: Provider, issuer: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const request = new UnsecuredJWT(signInParameters(issuer))
    .setIssuedAt(now)
    .setIssuer(ACCOUNT_CLIENT_ID)
    .setAudience(issuer)
    .setNotBefore(now)
    .setExpirationTime(now + PUSHED_REQUEST_TTL)
    .encode();
  const pushed = new provider.PushedAuthorizationRequest({ request, trusted: false } as never);
  const id = await pushed.save(PUSHED_REQUEST_TTL);
  const url = new URL('/auth', issuer);
  url.search = new URLSearchParams({ client_id: ACCOUNT_CLIENT_ID, request_uri: `urn:ietf:params:oauth:request_uri:${id}` }).toString();
  return url.toString();
}
