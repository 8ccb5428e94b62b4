/** OPS-3: the admin API, authorised by Gatehouse's own access tokens. */
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_API } from '../../src/admin/admin-api.js';
import { registerClients } from '../../src/clients/register.js';
import { HttpBrowser } from '../support/browser-over-http.js';
import { REDIRECT_URI, registerApi, registerServiceClient, registerSpaClient } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let writer: string;
let reader: string;

async function adminClient(clientId: string, scope: string) {
  const secret = randomBytes(32).toString('base64url');
  await registerClients(
    [{ client_id: clientId, client_secret: secret, grant_types: ['client_credentials'], scope }],
    server.gatehouse.live.current,
    server.gatehouse.services.clients,
  );
  const config = await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
  return (await oidc.clientCredentialsGrant(config, { resource: ADMIN_API, scope })).access_token;
}

function admin(path: string, token: string | undefined, init: { method?: string; body?: unknown } = {}) {
  return fetch(`${server.issuer}/admin/v1${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
}

async function startOn(kind: DatabaseChoice): Promise<void> {
  storage = await createTestStorage(kind);
  server = await startTestServer(storage);
  writer = await adminClient('ops-writer', 'admin:read admin:write');
  reader = await adminClient('ops-reader', 'admin:read');
}

async function stop(): Promise<void> {
  await server?.stop();
  await storage?.dispose();
}

// Admin writes run on both databases: knex on pg and on PGlite answer differently (e.g. deletes).
describe.each(['postgres', 'embedded'] as DatabaseChoice[])('on %s', (kind) => {
  beforeAll(() => startOn(kind));
  afterAll(stop);

  describe('OPS-3 admin API authorisation', () => {
    it('refuses requests without a token, with a forged one, or with a token for another API', async () => {
      expect((await admin('/clients', undefined)).status).toBe(401);
      const forged = `${writer.split('.').slice(0, 2).join('.')}.${'A'.repeat(86)}`;
      const response = await admin('/clients', forged);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('invalid_token');
      await registerApi(server);
      const service = await registerServiceClient(server, 'api-caller', 'things:read');
      const config = await oidc.discovery(new URL(server.issuer), service.clientId, undefined, oidc.ClientSecretBasic(service.secret), { execute: [oidc.allowInsecureRequests] });
      const otherApiToken = (await oidc.clientCredentialsGrant(config, { resource: 'https://api.test.example', scope: 'things:read' })).access_token;
      expect((await admin('/clients', otherApiToken)).status).toBe(401);
    });

    it("refuses an admin-API token issued for a user (it would outlive the user's logout)", async () => {
      const { registerClient } = await import('../support/fixtures.js');
      await registerClient(server, {
        client_id: 'admin-console',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['https://console.test.example/cb'],
        scope: 'openid admin:read',
      });
      const password = `pw-${randomBytes(12).toString('base64url')}`;
      await server.gatehouse.services.accounts.create({ username: 'operator' }, password);
      const verifier = oidc.randomPKCECodeVerifier();
      const url = new URL(`${server.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: 'admin-console',
        response_type: 'code',
        scope: 'openid admin:read',
        resource: ADMIN_API,
        redirect_uri: 'https://console.test.example/cb',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st',
      }).toString();
      const callback = await new HttpBrowser().authorize(url, server.issuer, { username: 'operator', password });
      const token = await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code') ?? '', code_verifier: verifier, redirect_uri: 'https://console.test.example/cb', client_id: 'admin-console' }),
      });
      const { access_token: userToken } = (await token.json()) as { access_token: string };
      expect(userToken.split('.')).toHaveLength(3);
      expect((await admin('/clients', userToken)).status).toBe(401);
    });

    it('lets admin:read read but not write (403 insufficient_scope)', async () => {
      expect((await admin('/clients', reader)).status).toBe(200);
      const response = await admin('/users', reader, { method: 'POST', body: { username: 'nope', password: 'x'.repeat(20) } });
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toContain('insufficient_scope');
    });

    it('does not let a client register itself the admin scopes through an import of an API', async () => {
      const response = await admin('/apis', writer, { method: 'POST', body: { identifier: ADMIN_API, name: 'x', scopes: ['admin:everything'] } });
      expect(response.status).toBe(400);
    });
  });

  describe('OPS-3 admin API operations', () => {
    it('manages APIs and clients with the CLI schemas: unknown fields named, nothing written', async () => {
      const api = await admin('/apis', writer, { method: 'POST', body: { identifier: 'https://billing.example', name: 'Billing', scopes: ['billing:read'] } });
      expect(api.status).toBe(201);
      const bad = await admin('/clients/billing-worker', writer, { method: 'PUT', body: { grant_types: ['client_credentials'], scope: 'billing:read', colour: 'blue' } });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { problems: string[] }).problems).toEqual([expect.stringContaining('colour')]);
      expect((await admin('/clients/billing-worker', writer)).status).toBe(404);

      const created = await admin('/clients/billing-worker', writer, { method: 'PUT', body: { grant_types: ['client_credentials'], scope: 'billing:read' } });
      expect(created.status).toBe(201);
      const { generatedSecret } = (await created.json()) as { generatedSecret: string };
      const config = await oidc.discovery(new URL(server.issuer), 'billing-worker', undefined, oidc.ClientSecretBasic(generatedSecret), { execute: [oidc.allowInsecureRequests] });
      const token = await oidc.clientCredentialsGrant(config, { resource: 'https://billing.example', scope: 'billing:read' });
      expect(token.access_token.split('.')).toHaveLength(3);
      const listed = (await (await admin('/clients', reader)).json()) as { clientId: string }[];
      expect(listed.map((client) => client.clientId)).toContain('billing-worker');
      const metadata = await (await admin('/clients/billing-worker', reader)).json();
      expect(JSON.stringify(metadata)).not.toContain(generatedSecret);
      expect((await admin('/clients/billing-worker', writer, { method: 'DELETE' })).status).toBe(204);
      expect((await admin('/clients/billing-worker', reader)).status).toBe(404);
    });

    it('creates, disables and re-enables users, sets passwords, and lists and ends their sessions', async () => {
      const password = `pw-${randomBytes(12).toString('base64url')}`;
      const created = await admin('/users', writer, { method: 'POST', body: { username: 'henry', email: 'henry@example.com', password } });
      expect(created.status).toBe(201);
      expect((await admin('/users', writer, { method: 'POST', body: { username: 'henry', password } })).status).toBe(400);
      expect((await admin('/users', writer, { method: 'POST', body: { username: 'ivy', password: 'short' } })).status).toBe(400);

      await registerApi(server).catch(() => undefined);
      await registerSpaClient(server).catch(() => undefined);
      const signIn = async () => {
        const browser = new HttpBrowser();
        const url = `${server.issuer}/auth?client_id=spa&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`;
        await browser.authorize(new URL(url), server.issuer, { username: 'henry', password });
      };
      await signIn();
      await signIn();
      const sessions = (await (await admin('/users/henry/sessions', reader)).json()) as { handle: string; uid?: string }[];
      expect(sessions).toHaveLength(2);
      expect(sessions[0]).not.toHaveProperty('uid');
      expect((await admin(`/users/henry/sessions/${sessions[0]?.handle}`, writer, { method: 'DELETE' })).status).toBe(204);
      expect(await (await admin('/users/henry/sessions', reader)).json()).toHaveLength(1);
      expect(await (await admin('/users/henry/sessions', writer, { method: 'DELETE' })).json()).toEqual({ ended: 1 });

      const newPassword = `pw-${randomBytes(12).toString('base64url')}`;
      // A reset now answers what it ended (issue 13 item 8) instead of 204.
      expect((await admin('/users/henry/password', writer, { method: 'PUT', body: { password: newPassword } })).status).toBe(200);
      expect(await server.gatehouse.services.accounts.authenticate('henry', newPassword)).toBeDefined();
      expect((await admin('/users/henry/disabled', writer, { method: 'PUT', body: { disabled: true } })).status).toBe(200);
      expect(await server.gatehouse.services.accounts.authenticate('henry', newPassword)).toBeUndefined();
      expect((await admin('/users/henry/disabled', writer, { method: 'PUT', body: { disabled: false } })).status).toBe(200);
      expect(await server.gatehouse.services.accounts.authenticate('henry', newPassword)).toBeDefined();
      expect((await admin('/users/nobody/sessions', reader)).status).toBe(404);
    });

    it('lists and rotates keys; new keys are published at once', async () => {
      const before = (await (await admin('/keys', reader)).json()) as { kid: string; state: string }[];
      expect(before.every((key) => key.state === 'active')).toBe(true);
      const rotated = await admin('/keys/rotate', writer, { method: 'POST' });
      expect(rotated.status).toBe(201);
      const { kids } = (await rotated.json()) as { kids: string[] };
      const after = (await (await admin('/keys', reader)).json()) as { kid: string; state: string }[];
      expect(after.filter((key) => kids.includes(key.kid)).every((key) => key.state === 'pending')).toBe(true);
      await expect
        .poll(async () => ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid), { timeout: 5000 })
        .toEqual(expect.arrayContaining(kids.filter((kid) => !kid.startsWith('cookie-'))));
    });

    it('refuses NUL characters and unpaired surrogates in JSON bodies with a 400, and answers 404 for unknown users', async () => {
      expect((await admin('/users', writer, { method: 'POST', body: { username: 'nul', name: 'a\u0000b', password: 'x'.repeat(20) } })).status).toBe(400);
      // JSON text can escape a lone surrogate; PostgreSQL's jsonb refuses it.
      const lone = await fetch(`${server.issuer}/admin/v1/apis`, {
        method: 'POST',
        headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
        body: '{"identifier":"https://lone.example","name":"a\\ud800b","scopes":["lone:read"]}',
      });
      expect(lone.status).toBe(400);
      expect((await admin('/users/nobody/password', writer, { method: 'PUT', body: { password: 'y'.repeat(20) } })).status).toBe(404);
    });

    it('rejects malformed JSON with a 400', async () => {
      const response = await fetch(`${server.issuer}/admin/v1/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
        body: '{"username":',
      });
      expect(response.status).toBe(400);
    });

    it('serves an OpenAPI document generated from the validation schemas', async () => {
      const document = (await (await fetch(`${server.issuer}/admin/v1/openapi.json`)).json()) as {
        openapi: string;
        paths: Record<string, unknown>;
        components: { schemas: Record<string, { properties?: Record<string, unknown>; additionalProperties?: unknown }> };
      };
      expect(document.openapi).toBe('3.1.0');
      expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/clients/{id}', '/apis', '/users', '/users/{username}/sessions', '/keys/rotate']));
      expect(document.components.schemas['ClientMetadata']?.properties).toHaveProperty('redirect_uris');
      expect(document.components.schemas['ClientMetadata']?.additionalProperties).toBe(false);
      expect(document.components.schemas['NewUser']?.properties).toHaveProperty('password');
    });

    it('stops accepting a deleted admin client\'s tokens', async () => {
      const token = await adminClient('short-lived-admin', 'admin:read');
      expect((await admin('/keys', token)).status).toBe(200);
      await server.gatehouse.services.clients.delete('short-lived-admin');
      expect((await admin('/keys', token)).status).toBe(401);
    });
  });

  describe.runIf(kind === 'postgres')('account changes reach every replica', () => {
    it('sees a user disabled on one replica as disabled on another within a second', async () => {
      const replica = await startTestServer(storage, { ISSUER: server.issuer });
      try {
        const account = await server.gatehouse.services.accounts.create({ username: 'lena' }, `pw-${randomBytes(12).toString('base64url')}`);
        expect((await replica.gatehouse.services.accounts.findById(account.id))?.disabled).toBe(false);
        expect((await admin('/users/lena/disabled', writer, { method: 'PUT', body: { disabled: true } })).status).toBe(200);
        await expect.poll(async () => (await replica.gatehouse.services.accounts.findById(account.id))?.disabled, { timeout: 1000, interval: 50 }).toBe(true);
      } finally {
        await replica.stop();
      }
    });
  });
});
