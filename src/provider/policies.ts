/**
 * Protocol policies Gatehouse adds on top of oidc-provider's defaults. Enforces:
 * - FLOW-1: PKCE (S256 only) for every client at the authorization endpoint, except a
 *   confidential client registered with `require_pkce: false`: that opt-out exempts it fully
 *   (OIDC Core 3.1.2.1 leaves the nonce optional in the code flow, so none is demanded).
 * - FLOW-2: a client-credentials token carries only scopes the client is registered for;
 *   anything else, even a scope no API knows, is invalid_scope.
 * - FLOW-3: registered APIs get tokens in their own format, audience and lifetime.
 * - FLOW-4: refresh tokens rotate on every use (reuse detection lives in the adapter).
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ResourceServer } from '../apis/schema.js';

interface ClientLike {
  readonly clientId: string;
  readonly clientAuthMethod: string;
  readonly scope?: string | undefined;
  readonly [key: string]: unknown;
}

const scopeSet = (scope: string | undefined) => new Set((scope ?? '').split(' ').filter(Boolean));

export function pkceRequired(_ctx: KoaContextWithOIDC, client: ClientLike): boolean {
  if (client.clientAuthMethod === 'none') return true;
  return client['require_pkce'] !== false;
}

/** Called while any access token is being minted; rejects client-credentials scopes outside the registration. */
export function assertRegisteredScopes(ctx: KoaContextWithOIDC, token: { kind: string; scope?: string | undefined }): void {
  if (token.kind !== 'ClientCredentials') return;
  const client = ctx.oidc.client as unknown as ClientLike | undefined;
  // The engine silently drops scopes it does not know from `params` before this point; the
  // raw body still says what the client asked for.
  const raw = (ctx.oidc as unknown as { body?: Record<string, unknown> }).body?.['scope'];
  const requested = scopeSet(typeof raw === 'string' ? raw : (ctx.oidc.params?.['scope'] as string | undefined));
  const allowed = scopeSet(client?.scope);
  for (const scope of requested) {
    if (!allowed.has(scope)) throw new errors.InvalidScope('requested scope is not allowed', scope);
  }
}

/** What oidc-provider needs to mint a token for `api`, limited to the scopes `client` may have. */
export function resourceServerInfo(api: ResourceServer, client: ClientLike, defaultTtl: number) {
  const clientScopes = scopeSet(client.scope);
  const allowed = api.scopes.filter((scope) => clientScopes.has(scope));
  if (!allowed.length) throw new errors.InvalidTarget('client is not allowed to request tokens for this resource');
  return {
    scope: allowed.join(' '),
    audience: api.identifier,
    accessTokenTTL: api.access_token_ttl ?? defaultTtl,
    accessTokenFormat: api.token_format,
    ...(api.token_format === 'jwt' ? { jwt: { sign: { alg: api.signing_alg } } } : {}),
  } as const;
}
