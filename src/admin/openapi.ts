/** The admin API described as OpenAPI 3.1, with request schemas generated from the zod schemas it validates with. */
import { z } from 'zod';
import { resourceServerSchema } from '../apis/schema.js';
import { clientMetadataSchema } from '../clients/schema.js';
import { ADMIN_API } from './admin-api.js';
import { disabledBody, mfaRequiredBody, newUserBody, passwordBody, userClaimsBody } from './schemas.js';
import { initialAccessTokenRequest } from '../registration/initial-access-tokens.js';

const schema = (zodSchema: z.ZodType) => z.toJSONSchema(zodSchema, { io: 'input', unrepresentable: 'any' });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonBody = (name: string) => ({ required: true, content: { 'application/json': { schema: ref(name) } } });
const ok = (description: string) => ({ description, content: { 'application/json': {} } });
const errors = {
  '400': { description: 'Invalid input: `problems` names each field' },
  '401': { description: 'Missing or invalid access token' },
  '403': { description: 'The token lacks the needed scope' },
};
const op = (summary: string, scope: string, extra: Record<string, unknown> = {}) => ({
  summary,
  security: [{ adminToken: [scope] }],
  responses: { '200': ok(summary), ...errors },
  ...extra,
});
const pathParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });

export function buildOpenApiDocument(issuer: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse admin API',
      version: '1',
      description: `Obtain a token with the client credentials grant at ${issuer}/token, resource=${ADMIN_API}, scope admin:read and/or admin:write.`,
    },
    servers: [{ url: `${issuer}/admin/v1` }],
    components: {
      securitySchemes: {
        adminToken: {
          type: 'oauth2',
          flows: { clientCredentials: { tokenUrl: `${issuer}/token`, scopes: { 'admin:read': 'Read', 'admin:write': 'Change' } } },
        },
      },
      schemas: {
        ClientMetadata: schema(clientMetadataSchema),
        ResourceServer: schema(resourceServerSchema),
        NewUser: schema(newUserBody),
        Password: schema(passwordBody),
        Disabled: schema(disabledBody),
        UserClaims: schema(userClaimsBody),
        InitialAccessTokenRequest: schema(initialAccessTokenRequest),
        MfaRequired: schema(mfaRequiredBody),
      },
    },
    paths: {
      '/clients': { get: op('List clients', 'admin:read') },
      '/clients/{id}': {
        parameters: [pathParam('id')],
        get: op('Get a client', 'admin:read'),
        put: op('Create or replace a client (a generated secret is returned once)', 'admin:write', { requestBody: jsonBody('ClientMetadata') }),
        delete: op('Delete a client and everything issued to it', 'admin:write'),
      },
      '/apis': {
        get: op('List APIs', 'admin:read'),
        post: op('Create or replace an API', 'admin:write', { requestBody: jsonBody('ResourceServer') }),
      },
      '/users': { get: op('List users', 'admin:read'), post: op('Create a user', 'admin:write', { requestBody: jsonBody('NewUser') }) },
      '/users/{username}': {
        parameters: [pathParam('username')],
        patch: op('Change standard claims (a value sets one, null removes it)', 'admin:write', { requestBody: jsonBody('UserClaims') }),
      },
      '/users/{username}/password': { parameters: [pathParam('username')], put: op('Set a password (ends the user\'s sessions and refresh tokens unless keep_sessions is true)', 'admin:write', { requestBody: jsonBody('Password') }) },
      '/users/{username}/disabled': {
        parameters: [pathParam('username')],
        put: op('Disable or enable a user (disabling ends their sessions)', 'admin:write', { requestBody: jsonBody('Disabled') }),
      },
      '/users/{username}/sessions': {
        parameters: [pathParam('username')],
        get: op("List a user's sessions", 'admin:read'),
        delete: op("End all of a user's sessions", 'admin:write'),
      },
      '/users/{username}/sessions/{handle}': {
        parameters: [pathParam('username'), pathParam('handle')],
        delete: op('End one session', 'admin:write'),
      },
      '/initial-access-tokens': {
        get: op('List initial access tokens for dynamic client registration (never the tokens themselves)', 'admin:read'),
        post: op('Issue an initial access token (returned once)', 'admin:write', { requestBody: jsonBody('InitialAccessTokenRequest') }),
      },
      '/initial-access-tokens/{id}': { parameters: [pathParam('id')], delete: op('Revoke an initial access token', 'admin:write') },
      '/users/{username}/factors': {
        parameters: [pathParam('username')],
        get: op("List a user's sign-in factors (authenticator app, recovery codes left, passkeys)", 'admin:read'),
        delete: op("Remove all of a user's second factors and passkeys, and end their sessions", 'admin:write'),
      },
      '/users/{username}/mfa-required': {
        parameters: [pathParam('username')],
        put: op('Require (or stop requiring) multi-factor sign-in for a user', 'admin:write', { requestBody: jsonBody('MfaRequired') }),
      },
      '/keys': { get: op('List signing and cookie keys with their state', 'admin:read') },
      '/keys/rotate': { post: op('Publish a new key generation; it signs after KEY_PUBLISH_DELAY', 'admin:write') },
    },
  };
}
