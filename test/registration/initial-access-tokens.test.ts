/**
 * FLOW-11: registration is off by default; in `initial-access-token` mode only a live token
 * with uses left registers a client, and the operator issues, lists and revokes tokens from the
 * CLI and the admin API. On PostgreSQL and on the embedded database.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_API } from '../../src/admin/admin-api.js';
import { registerClient } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { runToEnd } from '../support/process.js';

const REDIRECT = 'https://rp.test.example/cb';
const CLI = path.resolve('src/cli/main.ts');

const gatehouseCli = (env: Record<string, string>, args: string[]) => runToEnd(CLI, args, env);

describe.each(['postgres', 'embedded'] as const)('FLOW-11 registration modes and initial access tokens (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  const env = { REGISTRATION: 'initial-access-token', RATE_LIMIT_REGISTRATION_PER_HOUR: '1000' };

  const register = (token: string | undefined, metadata: unknown = { redirect_uris: [REDIRECT] }) =>
    fetch(`${server.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(metadata),
    });
  const issue = (request: { max_uses?: number; expires_in?: number; description?: string } = {}) =>
    server.gatehouse.services.initialAccessTokens.issue({ max_uses: 1, expires_in: 3600, ...request });
  const stateOf = async (id: string) => (await server.gatehouse.services.initialAccessTokens.list()).find((t) => t.id === id);

  beforeAll(async () => {
    storage = await createTestStorage(kind);
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  it('is off by default: no registration endpoint in discovery, 404 at /reg', async () => {
    server = await startTestServer(storage);
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).not.toHaveProperty('registration_endpoint');
    expect((await register(undefined)).status).toBe(404);
    expect((await fetch(`${server.issuer}/reg/anything`)).status).toBe(404);
    await server.stop();
    server = await startTestServer(storage, env);
    // Two starts of the embedded database: slow on a loaded machine.
  }, 120_000);

  it('refuses a registration without a token, or with an unknown one', async () => {
    const missing = await register(undefined);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: string }).error).toBe('invalid_token');
    expect((await register('not-a-token-that-was-ever-issued-by-gatehouse')).status).toBe(401);
    // As the engine's own tests: not in a JSON body, and not a manipulated token.
    const issued = await issue();
    expect((await register(undefined, { redirect_uris: [REDIRECT], access_token: issued.token })).status).toBe(401);
    expect((await register(issued.token.slice(0, -1))).status).toBe(401);
    expect(await stateOf(issued.id)).toMatchObject({ uses: 0, state: 'active' });
  });

  it('registers with a token until its uses are spent; a refused registration spends none', async () => {
    const issued = await issue({ max_uses: 2, description: 'two apps' });
    expect((await register(issued.token, { redirect_uris: ['http://not-loopback.example/cb'] })).status).toBe(400);
    const first = await register(issued.token);
    expect(first.status).toBe(201);
    const { client_id: clientId } = (await first.json()) as { client_id: string };
    expect((await register(issued.token)).status).toBe(201);
    const third = await register(issued.token);
    expect(third.status).toBe(401);
    expect(((await third.json()) as { error: string }).error).toBe('invalid_token');
    expect(await stateOf(issued.id)).toMatchObject({ state: 'used up', uses: 2, maxUses: 2, description: 'two apps' });
    const row = await server.gatehouse.services.db.knex('clients').where('client_id', clientId).first();
    expect(row.initial_access_token_id).toBe(issued.id);
    // The token itself is not stored.
    expect(JSON.stringify(await server.gatehouse.services.db.knex('initial_access_tokens').select('*'))).not.toContain(issued.token);
  });

  it('refuses an expired token and a revoked one', async () => {
    const expired = await issue();
    await server.gatehouse.services.db.knex('initial_access_tokens').where('id', expired.id).update({ expires_at: new Date(Date.now() - 1000) });
    expect((await register(expired.token)).status).toBe(401);
    expect((await stateOf(expired.id))?.state).toBe('expired');
    const revoked = await issue();
    expect(await server.gatehouse.services.initialAccessTokens.revoke(revoked.id)).toBe(true);
    expect((await register(revoked.token)).status).toBe(401);
    expect((await stateOf(revoked.id))?.state).toBe('revoked');
  });

  it('spends the last use once when registrations race for it', async () => {
    const issued = await issue({ max_uses: 1 });
    const results = await Promise.all(Array.from({ length: 6 }, () => register(issued.token)));
    const statuses = results.map((response) => response.status).sort();
    expect(statuses).toEqual([201, 401, 401, 401, 401, 401]);
    expect(await stateOf(issued.id)).toMatchObject({ uses: 1, state: 'used up' });
  });

  it('the admin API issues, lists and revokes tokens', async () => {
    const secret = randomBytes(32).toString('base64url');
    await registerClient(server, { client_id: 'ops', client_secret: secret, grant_types: ['client_credentials'], scope: 'admin:read admin:write' });
    const config = await oidc.discovery(new URL(server.issuer), 'ops', undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { resource: ADMIN_API, scope: 'admin:read admin:write' });
    const admin = (route: string, init: { method?: string; body?: unknown } = {}) =>
      fetch(`${server.issuer}/admin/v1${route}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      });

    const bad = await admin('/initial-access-tokens', { method: 'POST', body: { max_uses: 0, colour: 'red' } });
    expect(bad.status).toBe(400);
    const created = await admin('/initial-access-tokens', { method: 'POST', body: { max_uses: 3, expires_in: 600, description: 'partner onboarding' } });
    expect(created.status).toBe(201);
    const issued = (await created.json()) as { id: string; token: string; maxUses: number; state: string };
    expect(issued).toMatchObject({ maxUses: 3, state: 'active' });
    const registered = await register(issued.token);
    expect(registered.status).toBe(201);
    const { client_id: clientId } = (await registered.json()) as { client_id: string };

    const listed = (await (await admin('/initial-access-tokens')).json()) as { id: string; uses: number; token?: string }[];
    expect(listed.find((t) => t.id === issued.id)).toMatchObject({ uses: 1 });
    expect(JSON.stringify(listed)).not.toContain(issued.token);
    const clients = (await (await admin('/clients')).json()) as { clientId: string; origin: string }[];
    expect(clients.find((c) => c.clientId === clientId)?.origin).toBe('registration');
    expect(clients.find((c) => c.clientId === 'ops')?.origin).toBe('operator');

    expect((await admin(`/initial-access-tokens/${issued.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await admin(`/initial-access-tokens/${issued.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await register(issued.token)).status).toBe(401);
  });

  it('the CLI issues, lists and revokes tokens', async () => {
    const cliEnv = { ...storage.env, ...env, ISSUER: server.issuer };
    // The embedded database belongs to one process: the CLI runs while the server is stopped.
    if (kind === 'embedded') await server.stop();
    const created = await gatehouseCli(cliEnv, ['initial-access-tokens', 'create', '--max-uses', '2', '--expires-in', '3600', '--description', 'from the cli', '--json']);
    expect(created).toMatchObject({ code: 0 });
    const issued = JSON.parse(created.stdout) as { id: string; token: string };
    if (kind === 'postgres') {
      // Input checks do not depend on the database: once is enough.
      const invalid = await gatehouseCli(cliEnv, ['initial-access-tokens', 'create', '--max-uses', 'many']);
      expect(invalid.code).toBe(65);
      expect(invalid.stderr).toContain('--max-uses');
    }
    const listed = await gatehouseCli(cliEnv, ['initial-access-tokens', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(issued.id);
    expect(listed.stdout).toContain('from the cli');
    expect(listed.stdout).not.toContain(issued.token);
    if (kind === 'embedded') server = await startTestServer(storage, env);

    expect((await register(issued.token)).status).toBe(201);
    if (kind === 'embedded') await server.stop();
    else expect((await gatehouseCli(cliEnv, ['clients', 'list'])).stdout).toMatch(/registration/);
    const revoked = await gatehouseCli(cliEnv, ['initial-access-tokens', 'revoke', issued.id]);
    expect(revoked).toMatchObject({ code: 0 });
    if (kind === 'postgres') expect((await gatehouseCli(cliEnv, ['initial-access-tokens', 'revoke', issued.id])).code).toBe(65);
    if (kind === 'embedded') server = await startTestServer(storage, env);
    expect((await register(issued.token)).status).toBe(401);
    // Each CLI run starts a process (and, embedded, opens the database): slow on a loaded machine.
  }, 180_000);

  it('limits registrations per address', async () => {
    await server.stop();
    server = await startTestServer(storage, { REGISTRATION: 'open', RATE_LIMIT_REGISTRATION_PER_HOUR: '2' });
    // Counters are shared in PostgreSQL: start from none, not from the registrations above.
    if (kind === 'postgres') await server.gatehouse.services.db.knex('gatehouse_rate_limits').delete();
    expect((await register(undefined)).status).toBe(201);
    expect((await register(undefined)).status).toBe(201);
    const limited = await register(undefined);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBeTruthy();
    expect(((await limited.json()) as { error: string }).error).toBe('too_many_requests');
  });
});
