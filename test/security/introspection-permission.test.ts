/**
 * Issue 13 item 9: introspecting tokens issued to other clients is a permission
 * (`introspect_any_token`, for resource servers). Without it a client introspects only its own
 * tokens; the flag is refused for public clients; client import and the admin API accept it;
 * the migration keeps it for existing service clients only.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.js';
import { ADMIN_API } from '../../src/admin/admin-api.js';
import { openDatabase, openEmbedded } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createTestDatabase } from '../support/databases.js';
import { registerClient } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
const secrets: Record<string, string> = {};
const basic = (id: string) => `Basic ${Buffer.from(`${id}:${secrets[id]}`).toString('base64')}`;

async function confidential(clientId: string, extra: Record<string, unknown> = {}) {
  secrets[clientId] = randomBytes(32).toString('base64url');
  await registerClient(server, { client_id: clientId, client_secret: secrets[clientId], grant_types: ['client_credentials'], scope: 'admin:read admin:write', ...extra });
}

async function tokenOf(clientId: string, params: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(clientId) },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function introspect(clientId: string, token: string): Promise<{ active: boolean; client_id?: string }> {
  const response = await fetch(`${server.issuer}/token/introspection`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(clientId) },
    body: new URLSearchParams({ token }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { active: boolean; client_id?: string };
}

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await confidential('issuer-app');
  await confidential('web-app');
  await confidential('orders-rs', { introspect_any_token: true });
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

describe('item 9: introspection permission', () => {
  it('lets a client introspect its own tokens, a resource server with introspect_any_token any token, no one else', async () => {
    const token = await tokenOf('issuer-app');
    expect(await introspect('issuer-app', token)).toMatchObject({ active: true, client_id: 'issuer-app' });
    expect(await introspect('orders-rs', token)).toMatchObject({ active: true, client_id: 'issuer-app' });
    expect(await introspect('web-app', token)).toEqual({ active: false });
  });

  it('refuses the flag for a public client, and accepts it through the admin API', async () => {
    await expect(
      registerClient(server, { client_id: 'spa-x', token_endpoint_auth_method: 'none', redirect_uris: ['https://spa.example/cb'], introspect_any_token: true }),
    ).rejects.toThrow(/introspect_any_token is only for confidential clients/);
    const admin = await tokenOf('orders-rs', { resource: ADMIN_API, scope: 'admin:read admin:write' });
    const put = await fetch(`${server.issuer}/admin/v1/clients/web-app`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], scope: 'admin:read', introspect_any_token: true }),
    });
    expect(put.status).toBe(200);
    const read = await fetch(`${server.issuer}/admin/v1/clients/web-app`, { headers: { authorization: `Bearer ${admin}` } });
    expect(await read.json()).toMatchObject({ introspect_any_token: true });
    const bad = await fetch(`${server.issuer}/admin/v1/clients/web-app`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], introspect_any_token: 'yes' }),
    });
    expect(bad.status).toBe(400);
    await expect.poll(async () => (await introspect('web-app', await tokenOf('issuer-app'))).active, { timeout: 2000 }).toBe(true);
  });

  it.each(['postgres', 'embedded'] as const)('migration 20261129000400 keeps the permission for existing service clients only (%s)', async (kind) => {
    const database = kind === 'postgres' ? await createTestDatabase() : undefined;
    const db = database ? await openDatabase({ kind: 'postgres', url: database.url, poolMax: 2 }) : await openEmbedded(undefined);
    try {
      const index = migrations.findIndex((migration) => migration.name === '20261129000400_introspect_any_token');
      const before = migrations.slice(0, index);
      await db.knex.migrate.latest({
        tableName: 'gatehouse_migrations',
        migrationSource: {
          getMigrations: async () => before,
          getMigrationName: (migration: (typeof before)[number]) => migration.name,
          getMigration: async (migration: (typeof before)[number]) => migration,
        },
      });
      const row = (clientId: string, metadata: Record<string, unknown>) => ({ client_id: clientId, metadata: JSON.stringify({ client_id: clientId, ...metadata }), secret_hash: 'h' });
      await db.knex('clients').insert([
        row('service', { grant_types: ['client_credentials'] }),
        row('service-post', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post' }),
        row('web', { grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://web.example/cb'] }),
        row('web-default', { redirect_uris: ['https://web.example/cb'] }),
        { ...row('spa', { grant_types: ['authorization_code'], token_endpoint_auth_method: 'none' }), secret_hash: null },
        row('gatehouse-admin-cli', { grant_types: ['client_credentials'] }),
      ]);
      const { applied } = await migrateToLatest(db);
      expect(applied).toContain('20261129000400_introspect_any_token');
      const flags = Object.fromEntries(
        ((await db.knex('clients').select('client_id', 'metadata')) as { client_id: string; metadata: Record<string, unknown> }[]).map((r) => [
          r.client_id,
          r.metadata['introspect_any_token'] ?? false,
        ]),
      );
      expect(flags).toEqual({ service: true, 'service-post': true, web: false, 'web-default': false, spa: false, 'gatehouse-admin-cli': false });
    } finally {
      await db.close();
      await database?.drop();
    }
  }, 60_000);
});
