/**
 * The registration policy (FLOW-11): what a client that registers itself may be. Applied to a
 * registration (RFC 7591) and to every update (RFC 7592). Enforces:
 * - the operator client schema: allowlisted fields (an unknown one is named), types, lengths;
 * - only the grant types, authentication methods and scopes the operator allows;
 * - redirect URIs over https on the allowed hosts if the operator lists them, custom schemes
 *   only as reversed domain names (http only on loopback, as the client schema says for all);
 * - nothing only an operator may grant: no `introspect_any_token`;
 * - PKCE for every registered client (no `require_pkce: false`), no client credentials for a
 *   public client, keys by value only (a `jwks_uri` would make Gatehouse fetch URLs chosen by
 *   anyone allowed to register).
 * Pure: the caller turns problems into `invalid_client_metadata` / `invalid_redirect_uri`.
 */
import { isDeepStrictEqual } from 'node:util';
import { OIDC_SCOPES } from '../apis/schema.js';
import { payloadHasUnstorableText } from '../adapter/records.js';
import { CLIENT_METADATA_FIELDS, clientMetadataSchema, type ClientMetadata } from '../clients/schema.js';
import { describeIssues } from '../validation.js';

export interface RegistrationPolicy {
  readonly grantTypes: readonly string[];
  readonly authMethods: readonly string[];
  /** Undefined: the OpenID Connect scopes. */
  readonly scopes: readonly string[] | undefined;
  readonly redirectHosts: readonly string[] | undefined;
}

export type RegisteredMetadata = Omit<ClientMetadata, 'client_secret'>;

export type PolicyResult = { readonly ok: true; readonly metadata: RegisteredMetadata } | { readonly ok: false; readonly problems: readonly string[] };

/** Set by the server, never by the client (RFC 7591 §3.2.1, RFC 7592 §2.2). */
const SERVER_FIELDS = new Set([
  'client_id',
  'client_secret',
  'client_secret_expires_at',
  'client_id_issued_at',
  'registration_access_token',
  'registration_client_uri',
]);
const KNOWN_FIELDS = new Set(CLIENT_METADATA_FIELDS);

/**
 * The metadata a registration or update request asks for, in the operator schema's terms.
 * Server-set fields are dropped; null or "" means "not set" (RFC 7592 §2.2); a field the schema
 * does not know but the engine reports for every client (e.g. `subject_type: "public"`, sent
 * back from a read) is dropped when it only repeats the engine's default.
 */
function requestedMetadata(body: Record<string, unknown>, engineDefaults: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const requested: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(body)) {
    if (SERVER_FIELDS.has(field) || value === null || value === '') continue;
    if (!KNOWN_FIELDS.has(field) && field in engineDefaults && isDeepStrictEqual(value, engineDefaults[field])) continue;
    requested[field] = value;
  }
  return requested;
}

function hostAllowed(host: string, allowed: readonly string[] | undefined): boolean {
  if (!allowed) return true;
  return allowed.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern));
}

function redirectProblems(field: string, uris: readonly string[] | undefined, policy: RegistrationPolicy): string[] {
  const problems: string[] = [];
  for (const uri of uris ?? []) {
    const url = new URL(uri);
    const host = url.hostname.toLowerCase();
    if (url.protocol === 'https:') {
      if (!hostAllowed(host, policy.redirectHosts)) problems.push(`${field}: "${uri}" is not on a host registered clients may use`);
      // Plain http (loopback only) is the client schema's rule for every client, checked before this.
    } else if (url.protocol !== 'http:' && !url.protocol.slice(0, -1).includes('.')) {
      problems.push(`${field}: "${uri}" uses a custom scheme that is not a reversed domain name (RFC 8252 §7.1)`);
    }
  }
  return problems;
}

function policyProblems(client: RegisteredMetadata, policy: RegistrationPolicy): string[] {
  const problems: string[] = [];
  for (const grant of client.grant_types) {
    if (!policy.grantTypes.includes(grant)) problems.push(`grant_types: "${grant}" is not allowed for registered clients (allowed: ${policy.grantTypes.join(', ')})`);
  }
  const method = client.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!policy.authMethods.includes(method)) {
    problems.push(`token_endpoint_auth_method: "${method}" is not allowed for registered clients (allowed: ${policy.authMethods.join(', ')})`);
  }
  if (method === 'none' && client.grant_types.includes('client_credentials')) {
    problems.push('grant_types: a public client (token_endpoint_auth_method "none") cannot use client_credentials');
  }
  const scopes = new Set<string>(policy.scopes ?? OIDC_SCOPES);
  for (const scope of (client.scope ?? '').split(' ').filter(Boolean)) {
    if (!scopes.has(scope)) problems.push(`scope: "${scope}" is not available to registered clients`);
  }
  if (client.require_pkce === false) problems.push('require_pkce: a registered client cannot turn PKCE off');
  // Operator-only: it lets a client learn about every other client's tokens (issue 13 item 9).
  if (client.introspect_any_token) problems.push('introspect_any_token: only an operator can let a client introspect other clients\' tokens');
  if (client.jwks_uri) problems.push('jwks_uri: registered clients send their public keys by value, in jwks');
  problems.push(...redirectProblems('redirect_uris', client.redirect_uris, policy));
  problems.push(...redirectProblems('post_logout_redirect_uris', client.post_logout_redirect_uris, policy));
  return problems;
}

/**
 * `engineView` is what the engine made of the request (it adds `authorization_code` for a
 * `code` response type, defaults `response_types` to `code` as RFC 7591 says): the grant and
 * response types are checked and stored as the engine will apply them.
 */
export function checkRegistration(
  body: Record<string, unknown>,
  clientId: string,
  policy: RegistrationPolicy,
  engineDefaults: Readonly<Record<string, unknown>> = {},
  engineView: { readonly grant_types?: unknown; readonly response_types?: unknown } = {},
): PolicyResult {
  if (payloadHasUnstorableText(body)) return { ok: false, problems: ['values must not contain NUL characters or unpaired surrogates'] };
  const parsed = clientMetadataSchema.safeParse({ ...requestedMetadata(body, engineDefaults), ...engineView, client_id: clientId });
  if (!parsed.success) return { ok: false, problems: describeIssues(parsed.error) };
  const { client_secret: _ignored, ...metadata } = parsed.data;
  const problems = policyProblems(metadata, policy);
  return problems.length ? { ok: false, problems } : { ok: true, metadata };
}
