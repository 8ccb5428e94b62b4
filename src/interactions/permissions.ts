/** Scopes in plain words for the consent page. */
import type { ResourceServer } from '../apis/schema.js';

const OIDC_DESCRIPTIONS: Record<string, string> = {
  openid: 'Confirm who you are',
  profile: 'See your name and username',
  email: 'See your e-mail address',
  offline_access: 'Stay connected to your account when you are not using it',
};

export function describePermissions(
  oidcScopes: readonly string[],
  resourceScopes: ReadonlyMap<string, readonly string[]>,
  apis: ReadonlyMap<string, ResourceServer>,
): string[] {
  const lines = oidcScopes.map((scope) => OIDC_DESCRIPTIONS[scope] ?? `Use “${scope}”`);
  for (const [indicator, scopes] of resourceScopes) {
    const apiName = apis.get(indicator)?.name ?? indicator;
    for (const scope of scopes) lines.push(`Use ${apiName} with permission “${scope}”`);
  }
  return lines;
}
