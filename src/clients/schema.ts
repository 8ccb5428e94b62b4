/**
 * Client metadata accepted from operators (RFC 7591 / OpenID Connect Dynamic Client
 * Registration field names). Enforces: an allowlist of fields (an unknown one is rejected by
 * name), types, lengths, enums; PKCE opt-out only for confidential clients (FLOW-1);
 * only asymmetric algorithms (JWT-3); only the grant types Gatehouse serves.
 */
import { z } from 'zod';

const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const url = (name: string) =>
  z
    .string()
    .max(2000, `${name} must be at most 2000 characters`)
    .refine((value) => URL.canParse(value) && !value.includes('#'), `${name} must be an absolute URL without a fragment`);
const httpsUrl = (name: string) => url(name).refine((value) => value.startsWith('https://'), `${name} must use https`);
const asymmetricAlg = z.enum(['ES256', 'RS256', 'PS256', 'EdDSA']);

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;

const clientMetadataFields = z.strictObject({
  client_id: z
    .string()
    .min(1, 'client_id must not be empty')
    .max(200, 'client_id must be at most 200 characters')
    .regex(/^[A-Za-z0-9._~:@-]+$/, 'client_id may contain only letters, digits and . _ ~ : @ -'),
  client_secret: z.string().min(32, 'client_secret must be at least 32 characters').max(512).optional(),
  client_name: z.string().min(1).max(200).optional(),
  redirect_uris: z.array(url('redirect_uris')).max(50).optional(),
  post_logout_redirect_uris: z.array(url('post_logout_redirect_uris')).max(50).optional(),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1).max(3).optional(),
  response_types: z
    .array(z.enum(['code']))
    .max(1)
    .optional(),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).optional(),
  token_endpoint_auth_signing_alg: asymmetricAlg.optional(),
  scope: z
    .string()
    .max(2000)
    .refine((value) => value.split(' ').every((token) => scopeToken.test(token)), 'scope must be space-separated scope tokens')
    .optional(),
  application_type: z.enum(['web', 'native']).optional(),
  contacts: z.array(z.email('contacts must be e-mail addresses')).max(20).optional(),
  logo_uri: httpsUrl('logo_uri').optional(),
  client_uri: httpsUrl('client_uri').optional(),
  policy_uri: httpsUrl('policy_uri').optional(),
  tos_uri: httpsUrl('tos_uri').optional(),
  jwks_uri: httpsUrl('jwks_uri').optional(),
  jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(20) }).optional(),
  id_token_signed_response_alg: asymmetricAlg.optional(),
  default_max_age: z
    .number()
    .int()
    .min(0)
    .max(365 * 24 * 3600)
    .optional(),
  require_auth_time: z.boolean().optional(),
  require_pkce: z.boolean().optional(),
  // MFA-3: sign-ins for this client must be multi-factor (users without a second factor enrol one).
  require_mfa: z.boolean().optional(),
});

function clientMetadataRules(allowReservedIds: boolean) {
  return clientMetadataFields
    .superRefine((client, ctx) => {
      const reserved = client.client_id.startsWith('gatehouse-');
      // The built-in account client is never replaceable; other gatehouse- ids only by Gatehouse itself.
      if (reserved && (!allowReservedIds || client.client_id === 'gatehouse-account')) {
        ctx.addIssue({
          code: 'custom',
          path: ['client_id'],
          message: 'client_id must not start with "gatehouse-" (reserved for built-in clients)',
        });
      }
      if (client.require_pkce === false && (client.token_endpoint_auth_method ?? 'client_secret_basic') === 'none') {
        ctx.addIssue({ code: 'custom', path: ['require_pkce'], message: 'require_pkce may only be false for confidential clients' });
      }
      if (client.token_endpoint_auth_method === 'none' && client.client_secret) {
        ctx.addIssue({
          code: 'custom',
          path: ['client_secret'],
          message: 'a public client (token_endpoint_auth_method "none") has no client_secret',
        });
      }
      if (client.jwks && client.jwks_uri) {
        ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'use either jwks or jwks_uri, not both' });
      }
    })
    .transform((client) => {
      const grantTypes = client.grant_types ?? ['authorization_code'];
      // A service client has no redirect-based flow; without this the engine would demand redirect URIs.
      const responseTypes = client.response_types ?? (grantTypes.includes('authorization_code') ? ['code'] : []);
      return { ...client, grant_types: grantTypes, response_types: responseTypes };
    });
}

export const clientMetadataSchema = clientMetadataRules(false);
/** For Gatehouse's own commands (e.g. `admin bootstrap`), which may use the gatehouse- prefix. */
export const clientMetadataSchemaAllowingReserved = clientMetadataRules(true);

export type ClientMetadataInput = z.input<typeof clientMetadataSchema>;
export type ClientMetadata = z.output<typeof clientMetadataSchema>;

export function requiresSecret(client: ClientMetadata): boolean {
  const method = client.token_endpoint_auth_method ?? 'client_secret_basic';
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

/** Whether `client` has opted out of PKCE; only a confidential client can (FLOW-1). */
export function pkceOptedOut(client: { readonly token_endpoint_auth_method?: string | undefined; readonly require_pkce?: boolean | undefined }): boolean {
  return client.require_pkce === false && (client.token_endpoint_auth_method ?? 'client_secret_basic') !== 'none';
}
