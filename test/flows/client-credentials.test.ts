import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, registerApi, registerServiceClient } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let service: { clientId: string; secret: string };

async function clientFor(clientId: string, secret: string) {
  return oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });
}

async function tokenRequest(body: Record<string, string>, auth?: string) {
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
    body: new URLSearchParams(body),
  });
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  service = await registerServiceClient(server);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

describe('FLOW-6 discovery and JWKS', () => {
  it('publishes discovery for the issuer with the endpoints relying parties need', async () => {
    const response = await fetch(`${server.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(server.issuer);
    expect(metadata.jwks_uri).toBe(`${server.issuer}/jwks`);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
    expect(metadata.introspection_endpoint).toBeDefined();
    expect(metadata.revocation_endpoint).toBeDefined();
    expect(metadata.end_session_endpoint).toBeDefined();
    expect(metadata.userinfo_endpoint).toBeDefined();
    expect(metadata.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'RS256']));
  });

  it('JWT-2/JWT-3 publishes only public members of asymmetric keys, each with kid, alg and use, cacheable', async () => {
    const response = await fetch(`${server.issuer}/jwks`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe(`public, max-age=${server.config.keys.jwksCacheMaxAge}`);
    const { keys } = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(keys.map((key) => key['alg']).sort()).toEqual(['ES256', 'RS256']);
    for (const key of keys) {
      expect(key['kid']).toEqual(expect.any(String));
      expect(key['use']).toBe('sig');
      for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(privateMember);
    }
  });

  it('stores private key material only encrypted', async () => {
    const rows = await server.gatehouse.services.db.knex('keys').select('sealed_material');
    for (const row of rows) {
      expect(row.sealed_material).toMatch(/^v1\./);
      expect(row.sealed_material).not.toContain('"d"');
    }
  });
});

describe('FLOW-2/FLOW-3 client credentials', () => {
  it('issues an ES256 at+jwt for a registered API that verifies against the JWKS and lives 15 minutes', async () => {
    const client = await clientFor(service.clientId, service.secret);
    const tokens = await oidc.clientCredentialsGrant(client, { scope: 'things:read', resource: API });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBe(900);
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.issuer,
      audience: API,
      algorithms: ['ES256'],
      typ: 'at+jwt',
    });
    expect(payload['client_id']).toBe(service.clientId);
    expect(payload['scope']).toBe('things:read');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
  });

  it('issues an opaque token when no API is named, and introspection describes it', async () => {
    const client = await clientFor(service.clientId, service.secret);
    const tokens = await oidc.clientCredentialsGrant(client, { scope: 'things:read' });
    expect(tokens.access_token.split('.')).toHaveLength(1);
    expect(tokens.expires_in).toBe(900);
    const introspection = await oidc.tokenIntrospection(client, tokens.access_token);
    expect(introspection.active).toBe(true);
    expect(introspection.client_id).toBe(service.clientId);
    expect(introspection.scope).toBe('things:read');
    expect((introspection.exp ?? 0) - (introspection.iat ?? 0)).toBe(900);
  });

  it('FLOW-5 revocation makes an opaque token inactive', async () => {
    const client = await clientFor(service.clientId, service.secret);
    const tokens = await oidc.clientCredentialsGrant(client, { scope: 'things:write' });
    await oidc.tokenRevocation(client, tokens.access_token);
    const introspection = await oidc.tokenIntrospection(client, tokens.access_token);
    expect(introspection.active).toBe(false);
  });

  it('rejects a wrong secret with invalid_client', async () => {
    const response = await tokenRequest({ grant_type: 'client_credentials' }, basic(service.clientId, 'not-the-secret'));
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error?: string }).error).toBe('invalid_client');
  });

  it('rejects an unknown client with invalid_client', async () => {
    const response = await tokenRequest({ grant_type: 'client_credentials' }, basic('nobody', 'x'.repeat(40)));
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error?: string }).error).toBe('invalid_client');
  });

  it.each([
    ['a scope no API or client knows', { scope: 'admin:everything' }],
    ['an OpenID scope the client is not registered for', { scope: 'openid' }],
    ['an API scope the client is not registered for, with the API named', { scope: 'things:read things:delete', resource: API }],
  ])('rejects %s with invalid_scope', async (_label, params) => {
    const limited = await registerServiceClient(server, `limited-${Math.random().toString(36).slice(2)}`, 'things:read');
    const response = await tokenRequest({ grant_type: 'client_credentials', ...params }, basic(limited.clientId, limited.secret));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error?: string }).error).toBe('invalid_scope');
  });

  it('reads static client metadata from memory, not the database, on every token request', async () => {
    const client = await clientFor(service.clientId, service.secret);
    await oidc.clientCredentialsGrant(client, { scope: 'things:read' });
    const queries: string[] = [];
    const record = (query: { sql: string }) => queries.push(query.sql);
    server.gatehouse.services.db.knex.on('query', record);
    try {
      for (let i = 0; i < 5; i += 1) await oidc.clientCredentialsGrant(client, { scope: 'things:read' });
    } finally {
      server.gatehouse.services.db.knex.off('query', record);
    }
    expect(queries.filter((sql) => sql.includes('"clients"'))).toEqual([]);
    expect(queries.filter((sql) => sql.includes('"resource_servers"'))).toEqual([]);
  });

  it('sees a client change made elsewhere at once (cache invalidation)', async () => {
    const changed = await registerServiceClient(server, 'rotating', 'things:read');
    const first = await tokenRequest({ grant_type: 'client_credentials' }, basic(changed.clientId, changed.secret));
    expect(first.status).toBe(200);
    const replaced = await registerServiceClient(server, 'rotating', 'things:read');
    const old = await tokenRequest({ grant_type: 'client_credentials' }, basic(changed.clientId, changed.secret));
    expect(old.status).toBe(401);
    const fresh = await tokenRequest({ grant_type: 'client_credentials' }, basic(replaced.clientId, replaced.secret));
    expect(fresh.status).toBe(200);
  });

  it('reuses the engine client built from unchanged metadata, and builds anew once the client changes', async () => {
    const changing = await registerServiceClient(server, `reused-${Math.random().toString(36).slice(2)}`, 'things:read');
    const Client = server.gatehouse.live.current.Client as unknown as { find(id: string): Promise<{ clientId: string; scope?: string } | undefined> };
    const first = await Client.find(changing.clientId);
    expect(first?.clientId).toBe(changing.clientId);
    expect(await Client.find(changing.clientId)).toBe(first);
    await registerServiceClient(server, changing.clientId, 'things:read things:write');
    const changed = await Client.find(changing.clientId);
    expect(changed).not.toBe(first);
    expect(changed?.scope).toBe('things:read things:write');
    expect(await Client.find('no-such-client')).toBeUndefined();
  });

  it('keeps client secrets only as keyed hashes', async () => {
    const row = await server.gatehouse.services.db.knex('clients').where('client_id', service.clientId).first();
    expect(JSON.stringify(row)).not.toContain(service.secret);
    expect(row.secret_hash).toMatch(/^hmac-sha256\./);
  });
});

describe('NET-3 security headers on engine responses', () => {
  it('sends nosniff, a referrer policy, a strict CSP and no framing on discovery and JWKS', async () => {
    for (const route of ['/.well-known/openid-configuration', '/jwks']) {
      const response = await fetch(`${server.issuer}${route}`);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('same-origin');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-powered-by')).toBeNull();
      // Plain http here: HSTS is sent only over https.
      expect(response.headers.get('strict-transport-security')).toBeNull();
    }
  });
});
