/**
 * The account area signs people in the way any application does: through the authorization
 * endpoint, as a built-in first-party client. That keeps one login page, one session mechanism
 * (SESS-1) and every login policy in one place.
 */
import { randomBytes, createHash } from 'node:crypto';

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

/** Where to send a visitor without a session: a sign-in for the account client. */
export function accountSignInUrl(issuer: string): string {
  // Only the provider session matters here: the code is never redeemed, so the verifier is dropped.
  const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
  const url = new URL('/auth', issuer);
  url.search = new URLSearchParams({
    client_id: ACCOUNT_CLIENT_ID,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: `${issuer}/account/callback`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('base64url'),
  }).toString();
  return url.toString();
}
