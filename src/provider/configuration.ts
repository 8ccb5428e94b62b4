/**
 * oidc-provider configuration, assembled from Gatehouse's config and the current keys and APIs.
 * Every option here is deliberate; anything not set keeps the engine's certified default.
 */
import { errors, type Configuration, type FindAccount, type KoaContextWithOIDC } from 'oidc-provider';
import type { ResourceServerStore } from '../apis/store.js';
import type { ResourceServer } from '../apis/schema.js';
import { OIDC_SCOPES } from '../apis/schema.js';
import { standardClaimsOf, type AccountStore } from '../accounts/store.js';
import { CLAIMS_BY_SCOPE } from '../accounts/claims.js';
import { SUPPORTED_ACR_VALUES } from '../accounts/authentication-context.js';
import type { Config } from '../config/index.js';
import type { Keyring } from '../keys/store.js';
import { assertRegisteredScopes, pkceRequired, resourceServerInfo } from './policies.js';
import { cookieSettings, sessionTtl } from './cookies.js';
import { accountClientMetadata } from '../account-ui/account-client.js';
import { webOriginsOf } from '../security/cors.js';
import { ADMIN_API, adminResourceServer } from '../admin/admin-api.js';
import type { StructuredTokens } from './structured-tokens.js';
import type { ProviderPages } from './pages.js';
import type { AdapterFactory } from 'oidc-provider';
import { DPOP_SIGNING_ALGS, dpopFeature } from './dpop.js';
import { pushedAuthorizationRequestsFeature } from './pushed-authorization-requests.js';
import type { ClientCertificates } from '../tls/client-certificates.js';
import { mtlsClientAuthMethods, mtlsFeature } from './mtls.js';
import { registrationFeatures } from '../registration/engine.js';
import { signInPolicy } from '../mfa/policy.js';
import type { SecondFactorStore } from '../mfa/store.js';

export interface ProviderState {
  readonly keyring: Keyring;
  readonly resourceServers: ReadonlyMap<string, ResourceServer>;
}

export interface ProviderDependencies {
  readonly config: Config;
  readonly adapter: AdapterFactory;
  readonly accounts: AccountStore;
  readonly resourceServers: ResourceServerStore;
  readonly pages: ProviderPages;
  readonly structuredTokens: Pick<StructuredTokens, 'recordIssued'>;
  /** The DPoP nonce secret, derived from the master secret (the same on every replica). */
  readonly dpopNonceSecret: Buffer;
  /** Where client certificates come from (FLOW-8); absent in the CLI, which serves no requests. */
  readonly clientCertificates?: ClientCertificates;
  /** MFA-3: accounts an operator marked as needing multi-factor sign-ins. */
  readonly factors?: Pick<SecondFactorStore, 'isRequired'>;
}

const ASYMMETRIC_SIGNING = ['ES256', 'RS256', 'PS256', 'EdDSA'] as const;

function findAccount(accounts: AccountStore): FindAccount {
  return async (_ctx, sub) => {
    const account = await accounts.findById(sub);
    if (!account || account.disabled) return undefined;
    return {
      accountId: account.id,
      // Every claim the account has; the engine releases those the scopes, the claims request
      // parameter and the grant allow (FLOW-10).
      async claims() {
        return standardClaimsOf(account) as { sub: string };
      },
    };
  };
}

export function providerConfiguration(deps: ProviderDependencies, state: ProviderState): Configuration {
  const { config, pages, factors } = deps;
  const apiScopes = [...state.resourceServers.values(), adminResourceServer].flatMap((api) => api.scopes);
  return {
    adapter: deps.adapter,
    // The account area's own first-party client (src/account-ui); all others live in the database.
    clients: [accountClientMetadata(config.issuer) as never],
    jwks: { keys: state.keyring.jwks as NonNullable<Configuration['jwks']>['keys'] },
    cookies: cookieSettings(config, state.keyring.cookieKeys),
    claims: {
      ...Object.fromEntries(Object.entries(CLAIMS_BY_SCOPE).map(([scope, claims]) => [scope, [...claims]])),
      // Every ID token says how the user signed in (FLOW-10, RFC 8176), not only when a client asked.
      openid: [...CLAIMS_BY_SCOPE.openid, 'acr', 'amr'],
    },
    acrValues: [...SUPPORTED_ACR_VALUES],
    scopes: [...new Set([...OIDC_SCOPES, ...apiScopes])],
    findAccount: findAccount(deps.accounts),
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      // MFA-3: a live session signed in with less than a requested or required second factor is stepped up.
      policy: signInPolicy(config.mfa.requireFor, factors ? (accountId) => factors.isRequired(accountId) : undefined),
    },
    responseTypes: ['code'],
    pkce: { required: (ctx, client) => pkceRequired(ctx, client as never) },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none', ...mtlsClientAuthMethods(config)],
    enabledJWA: {
      idTokenSigningAlgValues: [...ASYMMETRIC_SIGNING],
      userinfoSigningAlgValues: [...ASYMMETRIC_SIGNING],
      introspectionSigningAlgValues: [...ASYMMETRIC_SIGNING],
      authorizationSigningAlgValues: [...ASYMMETRIC_SIGNING],
      requestObjectSigningAlgValues: [...ASYMMETRIC_SIGNING],
      clientAuthSigningAlgValues: [...ASYMMETRIC_SIGNING],
      dPoPSigningAlgValues: [...DPOP_SIGNING_ALGS],
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      // OIDC Registration §2: RS256 is the default every relying party must support (FLOW-6).
      // APIs' access tokens keep their own algorithm (ES256 unless the API says otherwise).
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    extraClientMetadata: {
      properties: ['require_pkce', 'introspect_any_token', 'require_mfa'],
      validator(_ctx, key, value) {
        if (key === 'require_pkce' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('require_pkce must be a boolean');
        }
        if (key === 'introspect_any_token' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('introspect_any_token must be a boolean');
        }
        if (key === 'require_mfa' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('require_mfa must be a boolean');
        }
      },
    },
    allowOmittingSingleRegisteredRedirectUri: false,
    // Subjects are public only, so a sector identifier means nothing here; and the engine would
    // fetch a registrant's sector_identifier_uri before Gatehouse's registration policy refuses it.
    sectorIdentifierUriValidate: () => false,
    rotateRefreshToken: true,
    // FLOW-4: a client allowed the refresh_token grant gets one; public clients included.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    extraTokenClaims: async (ctx, token) => {
      assertRegisteredScopes(ctx, token as never);
      // A user's JWT access token is not stored; record which grant it belongs to, so revoking
      // the grant can be seen at introspection (service tokens have no grant).
      const minted = token as unknown as { kind: string; jti: string; grantId?: string; expiration?: number; resourceServer?: { accessTokenFormat?: string } };
      if (minted.kind === 'AccessToken' && minted.grantId && minted.resourceServer?.accessTokenFormat === 'jwt') {
        await deps.structuredTokens.recordIssued(minted.jti, minted.grantId, minted.expiration ?? config.ttl.accessToken);
      }
      return undefined;
    },
    // NET-4: the engine's own check, per client, that the calling origin is one of its web origins.
    clientBasedCORS: (_ctx, origin, client) => webOriginsOf(client.redirectUris).includes(origin),
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      AuthorizationCode: config.ttl.authorizationCode,
      IdToken: config.ttl.idToken,
      Interaction: config.ttl.interaction,
      Grant: config.ttl.grant,
      Session: (_ctx, session) => sessionTtl(config)(session),
      RefreshToken: (ctx, token) => {
        // A rotated token never outlives the first one of its chain: rotation is not renewal.
        const remaining = token.iiat ? token.iiat + config.ttl.refreshToken - Math.floor(Date.now() / 1000) : config.ttl.refreshToken;
        return Math.max(1, Math.min(config.ttl.refreshToken, remaining));
      },
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A client registered with introspect_any_token (a resource server) may introspect any
        // token; every other client only tokens issued to itself (issue 13 item 9).
        allowedPolicy: async (_ctx, client, token) =>
          (client as unknown as Record<string, unknown>)['introspect_any_token'] === true || token.clientId === client.clientId,
      },
      revocation: {
        enabled: true,
        // RFC 7009: a client revokes only tokens that were issued to it.
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      mTLS: mtlsFeature(config, deps.clientCertificates),
      // FLOW-10: the `claims` request parameter, essential claims included (OIDC Core 5.5).
      claimsParameter: { enabled: true },
      dPoP: dpopFeature(config, deps.dpopNonceSecret),
      pushedAuthorizationRequests: pushedAuthorizationRequestsFeature(config),
      ...registrationFeatures(config.registration),
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => pages.logout(ctx, form),
        postLogoutSuccessSource: (ctx) => pages.signedOut(ctx),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator, client) => {
          const api = indicator === ADMIN_API ? adminResourceServer : await deps.resourceServers.find(indicator);
          if (!api) throw new errors.InvalidTarget('unknown resource');
          return resourceServerInfo(api, client as never, config.ttl.accessToken);
        },
      },
    },
    renderError: (ctx: KoaContextWithOIDC, out, error) => pages.error(ctx, out, error),
  };
}
