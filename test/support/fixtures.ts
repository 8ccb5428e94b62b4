/** Registers what a test needs through the same domain functions the CLI uses. */
import { randomBytes } from 'node:crypto';
import { registerResourceServers } from '../../src/apis/register.js';
import { registerClients } from '../../src/clients/register.js';
import type { ClientMetadataInput } from '../../src/clients/schema.js';
import type { ResourceServerInput } from '../../src/apis/schema.js';
import type { TestServer } from './server.js';

export const API = 'https://api.test.example';
export const REDIRECT_URI = 'https://app.test.example/callback';

export async function registerApi(server: TestServer, api: Partial<ResourceServerInput> = {}) {
  await registerResourceServers(
    [{ identifier: API, name: 'Test API', scopes: ['things:read', 'things:write'], token_format: 'jwt', ...api }],
    server.gatehouse.services.resourceServers,
  );
  await server.gatehouse.live.refresh();
}

export async function registerClient(server: TestServer, metadata: ClientMetadataInput) {
  const [saved] = await registerClients([metadata], server.gatehouse.live.current, server.gatehouse.services.clients);
  return saved;
}

export async function registerServiceClient(server: TestServer, clientId = 'service', scope = 'things:read things:write', metadata: Partial<ClientMetadataInput> = {}) {
  const secret = randomBytes(32).toString('base64url');
  await registerClient(server, { client_id: clientId, client_secret: secret, grant_types: ['client_credentials'], scope, ...metadata });
  return { clientId, secret };
}

export async function registerSpaClient(server: TestServer, overrides: Partial<ClientMetadataInput> = {}) {
  await registerClient(server, {
    client_id: 'spa',
    client_name: 'Test SPA',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: ['https://app.test.example/'],
    scope: 'openid profile email offline_access things:read',
    ...overrides,
  });
  return 'spa';
}

export async function registerUser(server: TestServer, username = 'alice') {
  // A random password may happen to contain a short username, which the password rules refuse.
  let password: string;
  do password = `pw-${randomBytes(12).toString('base64url')}`;
  while (password.toLowerCase().includes(username.toLowerCase()));
  const account = await server.gatehouse.services.accounts.create(
    { username, name: 'Alice Example', email: `${username}@example.com`, email_verified: true },
    password,
  );
  return { username, password, account };
}
