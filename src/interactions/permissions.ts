/** Scopes in plain words for the consent page. */
import type { ResourceServer } from '../apis/schema.js';

const OIDC_DESCRIPTIONS: Record<string, string> = {
  openid: 'Confirm who you are',
  profile: 'See your profile: name, username, picture, website, gender, birth date, time zone and language',
  email: 'See your e-mail address',
  address: 'See your postal address',
  phone: 'See your phone number',
  offline_access: 'Stay connected to your account when you are not using it',
};

// Claims a client asks for one by one (the `claims` request parameter), in plain words.
const CLAIM_WORDS: Record<string, string> = {
  name: 'name', given_name: 'given name', family_name: 'family name', middle_name: 'middle name', nickname: 'nickname',
  preferred_username: 'username', profile: 'profile page', picture: 'picture', website: 'website', gender: 'gender',
  birthdate: 'birth date', zoneinfo: 'time zone', locale: 'language', updated_at: 'when your profile last changed',
  email: 'e-mail address', email_verified: 'whether your e-mail address is verified', address: 'postal address',
  phone_number: 'phone number', phone_number_verified: 'whether your phone number is verified',
};

export function describePermissions(
  oidcScopes: readonly string[],
  resourceScopes: ReadonlyMap<string, readonly string[]>,
  apis: ReadonlyMap<string, ResourceServer>,
  oidcClaims: readonly string[] = [],
): string[] {
  const lines = oidcScopes.map((scope) => OIDC_DESCRIPTIONS[scope] ?? `Use “${scope}”`);
  const claims = oidcClaims.map((claim) => CLAIM_WORDS[claim]).filter((words): words is string => Boolean(words));
  if (claims.length) lines.push(`See your ${claims.join(', ')}`);
  for (const [indicator, scopes] of resourceScopes) {
    const apiName = apis.get(indicator)?.name ?? indicator;
    for (const scope of scopes) lines.push(`Use ${apiName} with permission “${scope}”`);
  }
  return lines;
}
