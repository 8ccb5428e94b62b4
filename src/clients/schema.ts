/**
 * Client metadata accepted from operators (RFC 7591 / OpenID Connect Dynamic Client
 * Registration field names). Enforces: an allowlist of fields (an unknown one is rejected by
 * name), types, lengths, enums; PKCE opt-out only for confidential clients (FLOW-1);
 * only asymmetric algorithms (JWT-3); only the grant types Gatehouse serves.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const url = (name: string) =>
  z
    .string()
    .max(2000, `${name} must be at most 2000 characters`)
    .refine((value) => URL.canParse(value) && !value.includes('#'), `${name} must be an absolute URL without a fragment`);
/**
 * FLOW-9 (RFC 8252, RFC 9700 §2.1 and §4.1): where an authorization response or a logout may be
 * sent. Plain http only to a loopback host (the response never leaves the machine; `localhost` is
 * accepted though RFC 8252 §8.3 recommends the IP literals), https anywhere else, private-use
 * schemes (`com.example.app:/cb`) only for native clients (checked below), never a fragment and
 * never a scheme a browser would run or read locally. Each error names the URI.
 */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const UNSAFE_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:']);
const redirectUri = (name: string) =>
  z
    .string()
    .max(2000, `${name} must be at most 2000 characters`)
    .superRefine((value, ctx) => {
      const parsed = URL.parse(value);
      const problem = !parsed
        ? 'is not an absolute URI'
        : value.includes('#')
          ? 'must not contain a fragment (#)'
          : UNSAFE_SCHEMES.has(parsed.protocol)
            ? `must not use the ${parsed.protocol.slice(0, -1)} scheme`
            : parsed.protocol === 'http:' && !LOOPBACK_HOSTS.has(parsed.hostname)
              ? 'uses plain http on a host that is not loopback: use https (http is allowed only for 127.0.0.1, [::1] and localhost)'
              : undefined;
      if (problem) ctx.addIssue({ code: 'custom', message: `${name} "${value.slice(0, 200)}" ${problem}` });
    });
const isWebUri = (uri: string) => ['https:', 'http:'].includes(URL.parse(uri)?.protocol ?? '');
const httpsUrl = (name: string) => url(name).refine((value) => value.startsWith('https://'), `${name} must use https`);
const asymmetricAlg = z.enum(['ES256', 'RS256', 'PS256', 'EdDSA']);

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none', 'tls_client_auth', 'self_signed_tls_client_auth'] as const;
/** RFC 8705 2.1.2: the one certificate subject value a `tls_client_auth` client registers. */
export const TLS_SUBJECT_FIELDS = [
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
] as const;

const clientMetadataFields = z.strictObject({
  client_id: z
    .string()
    .min(1, 'client_id must not be empty')
    .max(200, 'client_id must be at most 200 characters')
    .regex(/^[A-Za-z0-9._~:@-]+$/, 'client_id may contain only letters, digits and . _ ~ : @ -'),
  client_secret: z.string().min(32, 'client_secret must be at least 32 characters').max(512).optional(),
  client_name: z.string().min(1).max(200).optional(),
  redirect_uris: z.array(redirectUri('redirect_uris')).max(50).optional(),
  post_logout_redirect_uris: z.array(redirectUri('post_logout_redirect_uris')).max(50).optional(),
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
  // FLOW-8 / RFC 9449: every token request of this client must carry a DPoP proof.
  dpop_bound_access_tokens: z.boolean().optional(),
  // RFC 9126: this client's authorization requests must be pushed first.
  require_pushed_authorization_requests: z.boolean().optional(),
  // FLOW-8 (RFC 8705): mutual-TLS client authentication and certificate-bound tokens.
  tls_client_auth_subject_dn: z.string().min(3).max(1000).refine((value) => value.includes('='), 'tls_client_auth_subject_dn must be a distinguished name such as CN=service,O=Example').optional(),
  tls_client_auth_san_dns: z.string().min(1).max(253).regex(/^[A-Za-z0-9*.-]+$/, 'tls_client_auth_san_dns must be a DNS name').optional(),
  tls_client_auth_san_uri: url('tls_client_auth_san_uri').optional(),
  tls_client_auth_san_ip: z.string().refine((value) => isIP(value) !== 0, 'tls_client_auth_san_ip must be an IPv4 or IPv6 address').optional(),
  tls_client_auth_san_email: z.email('tls_client_auth_san_email must be an e-mail address').optional(),
  tls_client_certificate_bound_access_tokens: z.boolean().optional(),
  // RFC 7591 §2: identify the software (e.g. an MCP client) behind a registration.
  software_id: z.string().min(1).max(200).optional(),
  software_version: z.string().min(1).max(100).optional(),
  // Gatehouse metadata: a resource server that may introspect any token; without it a client
  // introspects only tokens issued to itself.
  introspect_any_token: z.boolean().optional(),
  // MFA-3: sign-ins for this client must be multi-factor (users without a second factor enrol one).
  require_mfa: z.boolean().optional(),
});

/** The metadata fields the schema knows (anything else is rejected by name). */
export const CLIENT_METADATA_FIELDS: readonly string[] = Object.keys(clientMetadataFields.shape);

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
      for (const field of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
        if ((client.application_type ?? 'web') === 'native') continue;
        for (const [index, uri] of (client[field] ?? []).entries()) {
          if (isWebUri(uri)) continue;
          ctx.addIssue({
            code: 'custom',
            path: [field, index],
            message: `${field} "${uri.slice(0, 200)}" uses a private-use URI scheme, which only a native app can receive: register the client with application_type "native"`,
          });
        }
      }
      const method = client.token_endpoint_auth_method;
      const subjects = TLS_SUBJECT_FIELDS.filter((field) => client[field] !== undefined);
      if (method === 'tls_client_auth' && subjects.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['token_endpoint_auth_method'],
          message: `tls_client_auth needs exactly one of ${TLS_SUBJECT_FIELDS.join(', ')}`,
        });
      }
      if (method !== 'tls_client_auth' && subjects.length) {
        ctx.addIssue({ code: 'custom', path: [subjects[0]!], message: `${subjects[0]} is only for token_endpoint_auth_method "tls_client_auth"` });
      }
      if ((method === 'tls_client_auth' || method === 'self_signed_tls_client_auth') && client.client_secret) {
        ctx.addIssue({ code: 'custom', path: ['client_secret'], message: `a ${method} client authenticates with its certificate and has no client_secret` });
      }
      if (method === 'self_signed_tls_client_auth' && !client.jwks && !client.jwks_uri) {
        ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'self_signed_tls_client_auth needs jwks (or jwks_uri) holding the certificate (x5c)' });
      }
      if (client.introspect_any_token && (client.token_endpoint_auth_method ?? 'client_secret_basic') === 'none') {
        ctx.addIssue({ code: 'custom', path: ['introspect_any_token'], message: 'introspect_any_token is only for confidential clients (resource servers)' });
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
