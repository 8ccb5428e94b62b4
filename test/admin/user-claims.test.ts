/**
 * FLOW-10 and FLOW-1 through the admin API, on both databases: standard claims on create and
 * by PATCH (null removes), validation by name, and a PKCE opt-out answered with a warning.
 */
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_API } from '../../src/admin/admin-api.js';
import { registerClients } from '../../src/clients/register.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';

describe.each<DatabaseChoice>(['postgres', 'embedded'])('admin API: standard claims and PKCE opt-out (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  let token: string;

  function admin(path: string, init: { method?: string; body?: unknown } = {}) {
    return fetch(`${server.issuer}/admin/v1${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    });
  }

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    const secret = randomBytes(32).toString('base64url');
    const scope = 'admin:read admin:write';
    await registerClients([{ client_id: 'ops', client_secret: secret, grant_types: ['client_credentials'], scope }], server.gatehouse.live.current, server.gatehouse.services.clients);
    const config = await oidc.discovery(new URL(server.issuer), 'ops', undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
    token = (await oidc.clientCredentialsGrant(config, { resource: ADMIN_API, scope })).access_token;
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  it('creates a user with standard claims, changes one, removes one', async () => {
    const created = await admin('/users', {
      method: 'POST',
      body: { username: 'hana', password: 'violet-canyon-2024', given_name: 'Hana', locale: 'ja-JP', zoneinfo: 'Asia/Tokyo', address: { formatted: '1-1 Chiyoda, Tokyo' } },
    });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { claims: unknown }).claims).toMatchObject({ given_name: 'Hana', locale: 'ja-JP', address: { formatted: '1-1 Chiyoda, Tokyo' } });

    const patched = await admin('/users/hana', { method: 'PATCH', body: { nickname: 'Hanachan', address: null, email: 'hana@example.jp' } });
    expect(patched.status).toBe(200);
    const users = (await (await admin('/users')).json()) as { username: string; email?: string; emailVerified: boolean; claims: Record<string, unknown> }[];
    const hana = users.find((user) => user.username === 'hana');
    expect(hana).toMatchObject({ email: 'hana@example.jp', emailVerified: false });
    expect(hana?.claims).toMatchObject({ given_name: 'Hana', nickname: 'Hanachan', zoneinfo: 'Asia/Tokyo' });
    expect(hana?.claims['address']).toBeUndefined();
    const account = await server.gatehouse.services.accounts.findByUsername('hana');
    expect(account?.claims['nickname']).toBe('Hanachan');
  });

  it('refuses unknown claims and malformed values by name and changes nothing', async () => {
    const refused = await admin('/users/hana', { method: 'PATCH', body: { sub: 'someone-else', website: 'ftp://files.example', updated_at: 99_999_999_999 } });
    expect(refused.status).toBe(400);
    const { problems } = (await refused.json()) as { problems: string[] };
    expect(problems.join('\n')).toMatch(/"sub"/);
    expect(problems.join('\n')).toMatch(/website/);
    expect(problems.join('\n')).toMatch(/updated_at/);
    expect((await admin('/users/nobody', { method: 'PATCH', body: { nickname: 'x' } })).status).toBe(404);
    expect((await admin('/users/hana', { method: 'PATCH', body: {} })).status).toBe(400);
    expect((await server.gatehouse.services.accounts.findByUsername('hana'))?.claims['website']).toBeUndefined();
  });

  it('answers a PKCE opt-out with a warning and logs it', async () => {
    const response = await admin('/clients/legacy-rp', { method: 'PUT', body: { redirect_uris: ['https://legacy.example/cb'], scope: 'openid', require_pkce: false } });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { warnings?: string[] }).warnings?.[0]).toContain('require_pkce is false');
    expect(server.logs.some((line) => line.includes('"event":"client_registration_warning"') && line.includes('legacy-rp'))).toBe(true);
    const clients = (await (await admin('/clients')).json()) as { clientId: string; pkceRequired: boolean }[];
    expect(clients.find((client) => client.clientId === 'legacy-rp')?.pkceRequired).toBe(false);
  });
});
