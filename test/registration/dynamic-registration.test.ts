/**
 * FLOW-11: clients that register themselves (RFC 7591) and manage their registration (RFC 7592)
 * in `open` mode, on PostgreSQL and on the embedded database: what the engine's own
 * registration tests check, held by Gatehouse's storage, plus the registration policy; registered
 * clients show as such wherever clients are listed (service, CLI, admin API).
 */
import net from 'node:net';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_API } from '../../src/admin/admin-api.js';
import { HttpBrowser } from '../support/browser-over-http.js';
import { API, registerApi, registerClient, registerServiceClient, registerUser } from '../support/fixtures.js';
import { runToEnd } from '../support/process.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

const REDIRECT = 'https://rp.test.example/cb';

describe.each(['postgres', 'embedded'] as const)('FLOW-11 dynamic client registration, open mode (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;

  const register = (metadata: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(metadata) });
  const manage = (uri: string, token: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(uri, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    });
  const registered = async (metadata: unknown) => {
    const response = await register(metadata);
    expect(response.status).toBe(201);
    return (await response.json()) as Record<string, unknown> & { client_id: string; registration_access_token: string; registration_client_uri: string };
  };
  /** What a client sends back on update: its registration minus what only the server sets (RFC 7592 §2.2). */
  const updateOf = (client: Record<string, unknown>, changes: Record<string, unknown> = {}) => {
    const { registration_access_token: _t, registration_client_uri: _u, client_secret_expires_at: _e, client_id_issued_at: _i, ...rest } = client;
    return { ...rest, ...changes };
  };

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage, {
      REGISTRATION: 'open',
      REGISTRATION_GRANT_TYPES: 'authorization_code,refresh_token,client_credentials',
      REGISTRATION_SCOPES: 'openid profile email offline_access things:read',
      RATE_LIMIT_REGISTRATION_PER_HOUR: '1000',
    });
    await registerApi(server);
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  it('advertises the registration endpoint, and warns the operator that registration is open', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata['registration_endpoint']).toBe(`${server.issuer}/reg`);
    expect(server.logs.some((line) => line.includes('"event":"registration_open"'))).toBe(true);
  });

  it('registers a client without a token: id, secret that does not expire, registration access token, defaults', async () => {
    const response = await register({ redirect_uris: [REDIRECT], client_name: 'Relying Party' });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      client_secret_expires_at: 0,
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_basic',
      require_auth_time: false,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT],
      client_name: 'Relying Party',
    });
    expect(body['client_id']).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof body['client_secret']).toBe('string');
    expect(typeof body['registration_access_token']).toBe('string');
    expect(typeof body['client_id_issued_at']).toBe('number');
    expect(body['registration_client_uri']).toBe(`${server.issuer}/reg/${String(body['client_id'])}`);

    // Stored like an imported client: metadata in the clients table, the secret only as a keyed hash.
    const knex = server.gatehouse.services.db.knex;
    const row = await knex('clients').where('client_id', String(body['client_id'])).first();
    expect(row.secret_hash).toMatch(/^hmac-sha256\./);
    expect(JSON.stringify(row)).not.toContain(String(body['client_secret']));
    expect(row.registered_at).not.toBeNull();
    // The registration access token is stored under a digest, never as itself.
    const records = await knex('oidc_records').where('model', 'RegistrationAccessToken');
    expect(JSON.stringify(records)).not.toContain(String(body['registration_access_token']));
    expect(records.some((record: { payload: { clientId: string } }) => record.payload.clientId === body['client_id'])).toBe(true);
  });

  it('issues no secret to a public client and ignores a secret it sends', async () => {
    const body = await registered({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_secret: 'x'.repeat(40), client_secret_expires_at: 5 });
    expect(body).not.toHaveProperty('client_secret');
    expect(body).not.toHaveProperty('client_secret_expires_at');
    const row = await server.gatehouse.services.db.knex('clients').where('client_id', body.client_id).first();
    expect(row.secret_hash).toBeNull();
  });

  it('answers bad requests like the engine: JSON objects only, invalid_redirect_uri without redirect URIs', async () => {
    const nullBody = await fetch(`${server.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'null' });
    expect(nullBody.status).toBe(400);
    expect(await nullBody.json()).toEqual({ error: 'invalid_request', error_description: 'client registration request must be a JSON object' });
    const form = await fetch(`${server.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'redirect_uris=x' });
    expect(form.status).toBe(400);
    expect(((await form.json()) as { error: string }).error).toBe('invalid_request');
    const missing = await register({});
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toBe('invalid_redirect_uri');
  });

  it.each([
    [{ redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'implicit'] }, 'grant_types', 'invalid_client_metadata'],
    [{ redirect_uris: [REDIRECT], favourite_colour: 'blue' }, 'favourite_colour', 'invalid_client_metadata'],
    [{ redirect_uris: [REDIRECT], scope: 'openid things:write' }, 'scope', 'invalid_client_metadata'],
    [{ redirect_uris: [REDIRECT], require_pkce: false }, 'require_pkce', 'invalid_client_metadata'],
    [{ redirect_uris: [REDIRECT], introspect_any_token: true }, 'introspect_any_token', 'invalid_client_metadata'],
    [{ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['client_credentials'], scope: 'things:read' }, 'grant_types', 'invalid_client_metadata'],
    [{ redirect_uris: [REDIRECT], jwks_uri: 'https://rp.test.example/jwks' }, 'jwks_uri', 'invalid_client_metadata'],
    [{ redirect_uris: ['http://rp.test.example/cb'] }, 'redirect_uris', 'invalid_redirect_uri'],
    [{ redirect_uris: [REDIRECT], post_logout_redirect_uris: ['http://rp.test.example/'] }, 'post_logout_redirect_uris', 'invalid_client_metadata'],
    [{ redirect_uris: [REDIRECT], client_name: 'a\u0000b' }, 'NUL', 'invalid_client_metadata'],
  ])('refuses a policy violation naming the field (%#: %s)', async (metadata, field, error) => {
    const before = await server.gatehouse.services.clients.list();
    const response = await register(metadata);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).toBe(error);
    expect(body.error_description).toContain(field);
    expect(await server.gatehouse.services.clients.list()).toEqual(before);
  });

  it('never fetches a URL a registrant names: sector_identifier_uri is refused without a request to it', async () => {
    let connections = 0;
    const listener = net.createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = listener.address() as net.AddressInfo;
      const response = await register({ redirect_uris: [REDIRECT], sector_identifier_uri: `https://127.0.0.1:${port}/sector.json` });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error_description: string }).error_description).toContain('sector_identifier_uri');
      expect(connections).toBe(0);
    } finally {
      listener.close();
    }
  });

  it('reads a registration with its registration access token, never returning the stored secret hash', async () => {
    const client = await registered({ redirect_uris: [REDIRECT] });
    const response = await manage(client.registration_client_uri, client.registration_access_token);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      client_id: client.client_id,
      client_secret_expires_at: 0,
      client_id_issued_at: client['client_id_issued_at'],
      registration_access_token: client.registration_access_token,
      registration_client_uri: client.registration_client_uri,
      redirect_uris: [REDIRECT],
    });
    expect(body).not.toHaveProperty('client_secret');
    expect((await manage(client.registration_client_uri, 'not-the-token')).status).toBe(401);
    expect((await fetch(client.registration_client_uri)).status).toBe(401);
  });

  it('a registration access token used on another client is destroyed', async () => {
    const first = await registered({ redirect_uris: [REDIRECT] });
    const second = await registered({ redirect_uris: [REDIRECT] });
    expect((await manage(second.registration_client_uri, first.registration_access_token)).status).toBe(401);
    expect((await manage(first.registration_client_uri, first.registration_access_token)).status).toBe(401);
  });

  it('updates a registration (with the secret sent back), rotating the registration access token', async () => {
    const client = await registered({ redirect_uris: [REDIRECT] });
    const response = await manage(client.registration_client_uri, client.registration_access_token, {
      method: 'PUT',
      body: updateOf(client, { redirect_uris: ['https://rp.test.example/other'], client_name: 'Renamed' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown> & { registration_access_token: string };
    expect(body).toMatchObject({
      client_id: client.client_id,
      client_name: 'Renamed',
      redirect_uris: ['https://rp.test.example/other'],
      client_secret_expires_at: 0,
      client_id_issued_at: client['client_id_issued_at'],
      registration_client_uri: client.registration_client_uri,
    });
    expect(body).not.toHaveProperty('client_secret');
    expect(body.registration_access_token).not.toBe(client.registration_access_token);
    expect((await manage(client.registration_client_uri, client.registration_access_token)).status).toBe(401);
    expect((await manage(client.registration_client_uri, body.registration_access_token)).status).toBe(200);
    // The secret is unchanged: the client still authenticates with it.
    const stored = await server.gatehouse.services.clients.find(client.client_id);
    expect(server.gatehouse.services.clients.verifySecret(String(client['client_secret']), String(stored?.['client_secret']))).toBe(true);
  });

  it('refuses an update with a wrong secret, a server-set field or a policy violation, changing nothing', async () => {
    const client = await registered({ redirect_uris: [REDIRECT], client_name: 'Before' });
    const attempts = [
      [updateOf(client, { client_secret: 'y'.repeat(43) }), 'invalid_request'],
      [{ ...updateOf(client), client_id_issued_at: 1 }, 'invalid_request'],
      [updateOf(client, { grant_types: ['implicit'] }), 'invalid_client_metadata'],
      [updateOf(client, { redirect_uris: ['http://evil.example/cb'] }), 'invalid_redirect_uri'],
    ] as const;
    for (const [update, error] of attempts) {
      const response = await manage(client.registration_client_uri, client.registration_access_token, { method: 'PUT', body: update });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe(error);
    }
    const read = (await (await manage(client.registration_client_uri, client.registration_access_token)).json()) as Record<string, unknown>;
    expect(read).toMatchObject({ client_name: 'Before', redirect_uris: [REDIRECT] });
  });

  it('keeps the engine\'s update semantics: null or omission deletes a property, not the secret; JSON objects only; no-store', async () => {
    const client = await registered({ redirect_uris: [REDIRECT], client_name: 'Named', logo_uri: 'https://rp.test.example/logo.png' });
    const put = (body: unknown) => manage(client.registration_client_uri, client.registration_access_token, { method: 'PUT', body });
    const nulled = await put(updateOf(client, { client_name: null }));
    expect(nulled.status).toBe(200);
    expect(nulled.headers.get('cache-control')).toBe('no-store');
    const afterNull = (await nulled.json()) as Record<string, unknown> & { registration_access_token: string };
    expect(afterNull).not.toHaveProperty('client_name');
    client.registration_access_token = afterNull.registration_access_token;
    const { logo_uri: _logo, ...withoutLogo } = updateOf(client);
    const omitted = (await (await put(withoutLogo)).json()) as Record<string, unknown> & { registration_access_token: string };
    expect(omitted).not.toHaveProperty('logo_uri');
    client.registration_access_token = omitted.registration_access_token;
    const secretNull = await put(updateOf(client, { client_secret: null }));
    expect(secretNull.status).toBe(400);
    expect(await secretNull.json()).toEqual({ error: 'invalid_request', error_description: "provided client_secret does not match the authenticated client's one" });
    const serverField = await put({ ...updateOf(client), registration_access_token: 'x' });
    expect(((await serverField.json()) as { error_description: string }).error_description).toBe('request MUST NOT include the registration_access_token field');
    const nullBody = await fetch(client.registration_client_uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${client.registration_access_token}`, 'content-type': 'application/json' },
      body: 'null',
    });
    expect(await nullBody.json()).toEqual({ error: 'invalid_request', error_description: 'client update request must be a JSON object' });
  });

  it('an update that makes a public client confidential returns its new secret once', async () => {
    const client = await registered({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const response = await manage(client.registration_client_uri, client.registration_access_token, {
      method: 'PUT',
      body: updateOf(client, { token_endpoint_auth_method: 'client_secret_basic' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(typeof body['client_secret']).toBe('string');
    expect(body['client_secret']).not.toMatch(/^hmac-sha256\./);
    expect(body['client_secret_expires_at']).toBe(0);
  });

  it('deletes a registration: the client, its tokens and its registration access token are gone', async () => {
    const client = await registered({ grant_types: ['client_credentials'], response_types: [], scope: 'things:read' });
    const response = await manage(client.registration_client_uri, client.registration_access_token, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.text()).toBe('');
    expect(await server.gatehouse.services.clients.find(client.client_id)).toBeUndefined();
    expect((await manage(client.registration_client_uri, client.registration_access_token)).status).toBe(401);
    const token = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${String(client['client_secret'])}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read', resource: API }),
    });
    expect(token.status).toBe(401);
  });

  it('operator clients cannot be managed at the registration endpoint, and an import takes a registered client over', async () => {
    const client = await registered({ redirect_uris: [REDIRECT] });
    await registerClient(server, { client_id: client.client_id, redirect_uris: [REDIRECT], client_name: 'Operator owned' });
    expect((await manage(client.registration_client_uri, client.registration_access_token)).status).toBe(401);
    const listed = (await server.gatehouse.services.clients.list()).find((c) => c.clientId === client.client_id);
    expect(listed?.origin).toBe('operator');
  });

  it('operator and built-in clients answer 403 at the registration endpoint, even to a registration access token', async () => {
    await registerClient(server, { client_id: 'imported-web', redirect_uris: [REDIRECT] });
    // As the engine's own test does: a token minted directly for a client that did not register.
    const { RegistrationAccessToken } = server.gatehouse.live.current as unknown as { RegistrationAccessToken: new (input: { clientId: string }) => { save(): Promise<string> } };
    for (const clientId of ['imported-web', 'gatehouse-account']) {
      const token = await new RegistrationAccessToken({ clientId }).save();
      const response = await manage(`${server.issuer}/reg/${clientId}`, token);
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ error: 'invalid_request', error_description: 'client does not have permission to read its record' });
      expect((await manage(`${server.issuer}/reg/${clientId}`, token, { method: 'DELETE' })).status).toBe(403);
    }
    expect(await server.gatehouse.services.clients.find('imported-web')).toBeDefined();
  });

  it('logs each registration, update and deletion, never a secret or token', async () => {
    const client = await registered({ redirect_uris: [REDIRECT] });
    const updated = (await (
      await manage(client.registration_client_uri, client.registration_access_token, { method: 'PUT', body: updateOf(client, { client_name: 'Logged' }) })
    ).json()) as { registration_access_token: string };
    await manage(client.registration_client_uri, updated.registration_access_token, { method: 'DELETE' });
    const logs = server.logs.join('');
    for (const event of ['client_registered', 'registered_client_updated', 'registered_client_deleted']) {
      expect(logs).toContain(`"event":"${event}","clientId":"${client.client_id}"`);
    }
    for (const secret of [String(client['client_secret']), client.registration_access_token, updated.registration_access_token]) expect(logs).not.toContain(secret);
  });

  it('lists registered clients as registered, beside imported ones, in the CLI and the admin API', async () => {
    const client = await registered({ redirect_uris: [REDIRECT], client_name: 'Listed' });
    await registerClient(server, { client_id: 'imported-app', redirect_uris: [REDIRECT] });
    const expectOrigins = (listed: readonly { clientId: string; origin?: string; clientName?: string }[]) => {
      expect(listed.find((c) => c.clientId === client.client_id)).toMatchObject({ origin: 'registration', clientName: 'Listed' });
      expect(listed.find((c) => c.clientId === 'imported-app')).toMatchObject({ origin: 'operator' });
    };
    expectOrigins(await server.gatehouse.services.clients.list());

    // `gatehouse clients list`, a separate process, as the operator runs it and reads it: ORIGIN is the last column.
    const cli = await runToEnd('src/cli/main.ts', ['clients', 'list'], { ...storage.env, ISSUER: server.issuer });
    expect(cli.code, cli.stderr).toBe(0);
    const rows = cli.stdout.split('\n');
    expect(rows[0]).toMatch(/ ORIGIN$/);
    expect(rows.find((row) => row.startsWith(`${client.client_id} `))).toMatch(/ registration$/);
    expect(rows.find((row) => row.startsWith('imported-app '))).toMatch(/ operator$/);

    // GET /admin/v1/clients, with a token of the admin API.
    const reader = await registerServiceClient(server, 'dcr-admin-reader', 'admin:read');
    const config = await oidc.discovery(new URL(server.issuer), reader.clientId, undefined, oidc.ClientSecretBasic(reader.secret), { execute: [oidc.allowInsecureRequests] });
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { resource: ADMIN_API, scope: 'admin:read' });
    const admin = await fetch(`${server.issuer}/admin/v1/clients`, { headers: { authorization: `Bearer ${token}` } });
    expect(admin.status).toBe(200);
    expectOrigins((await admin.json()) as { clientId: string; origin: string }[]);
    // The CLI is a whole process (tsx, database connection): slow on a loaded two-core machine.
  }, 60_000);

  it('a client registered through openid-client completes a login with PKCE', async () => {
    const { username, password } = await registerUser(server, `dcr-${kind}`);
    const configuration = await oidc.dynamicClientRegistration(
      new URL(server.issuer),
      { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile offline_access' },
      oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    // A registered public client cannot skip PKCE.
    const withoutPkce = oidc.buildAuthorizationUrl(configuration, { redirect_uri: REDIRECT, scope: 'openid' });
    const refused = await fetch(withoutPkce, { redirect: 'manual' });
    expect(new URL(refused.headers.get('location') ?? '', server.issuer).searchParams.get('error')).toBe('invalid_request');
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid profile offline_access',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = await new HttpBrowser().authorize(url, server.issuer, { username, password });
    const tokens = await oidc.authorizationCodeGrant(configuration, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()?.aud).toBe(configuration.clientMetadata().client_id);
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('a registered confidential client obtains a client-credentials token for the scopes it registered', async () => {
    // RFC 7591: response_types defaults to ["code"]; a service without redirects says it has none.
    const client = await registered({ grant_types: ['client_credentials'], response_types: [], scope: 'things:read' });
    const configuration = await oidc.discovery(new URL(server.issuer), client.client_id, undefined, oidc.ClientSecretBasic(String(client['client_secret'])), {
      execute: [oidc.allowInsecureRequests],
    });
    const tokens = await oidc.clientCredentialsGrant(configuration, { scope: 'things:read', resource: API });
    expect(tokens.access_token).toBeTruthy();
  });
});

describe('FLOW-11 registered clients across replicas (postgres)', () => {
  let storage: TestStorage;
  let first: TestServer;
  let second: TestServer;

  beforeAll(async () => {
    storage = await createTestStorage('postgres');
    first = await startTestServer(storage, { REGISTRATION: 'open' });
    second = await startTestServer(storage, { REGISTRATION: 'open' });
  });

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await storage?.dispose();
  });

  it('an update or deletion on one replica reaches the cached client on another', async () => {
    const created = (await (
      await fetch(`${first.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'One' }) })
    ).json()) as Record<string, unknown> & { client_id: string; registration_access_token: string };
    // The second replica caches the client.
    expect((await second.gatehouse.services.clients.find(created.client_id))?.['client_name']).toBe('One');
    const { registration_access_token: token, registration_client_uri: _u, client_secret_expires_at: _e, client_id_issued_at: _i, ...metadata } = created;
    const updated = await fetch(`${first.issuer}/reg/${created.client_id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...metadata, client_name: 'Two' }),
    });
    expect(updated.status).toBe(200);
    const rotated = ((await updated.json()) as { registration_access_token: string }).registration_access_token;
    await expect.poll(async () => (await second.gatehouse.services.clients.find(created.client_id))?.['client_name'], { timeout: 5000 }).toBe('Two');
    expect((await fetch(`${first.issuer}/reg/${created.client_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${rotated}` } })).status).toBe(204);
    await expect.poll(async () => second.gatehouse.services.clients.find(created.client_id), { timeout: 5000 }).toBeUndefined();
  });
});
