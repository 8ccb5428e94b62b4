/**
 * MFA, OPS-3: operators list a user's factors, reset them (which ends the user's sessions) and
 * require multi-factor sign-in — through the admin API on both databases, and the CLI.
 */
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA } from '../../src/accounts/authentication-context.js';
import { ADMIN_API } from '../../src/admin/admin-api.js';
import { registerClients } from '../../src/clients/register.js';
import { HttpBrowser } from '../support/browser-over-http.js';
import { registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';
import { discoverClient, signInAndRedeem } from '../support/sign-in.js';
import { totpCode } from '../support/totp.js';
import { runToEnd } from '../support/process.js';

describe.each<DatabaseChoice>(['postgres', 'embedded'])('MFA admin API (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    await registerApi(server);
    await registerSpaClient(server);
    const secret = randomBytes(32).toString('base64url');
    await registerClients([{ client_id: 'ops', client_secret: secret, grant_types: ['client_credentials'], scope: 'admin:read admin:write' }], server.gatehouse.live.current, server.gatehouse.services.clients);
    const config = await oidc.discovery(new URL(server.issuer), 'ops', undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
    token = (await oidc.clientCredentialsGrant(config, { resource: ADMIN_API, scope: 'admin:read admin:write' })).access_token;
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  const admin = async (route: string, init: { method?: string; body?: unknown } = {}) => {
    const response = await fetch(`${server.issuer}/admin/v1${route}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Record<string, unknown> };
  };

  it('lists a user’s factors without secrets, and resets them, ending the user’s sessions', async () => {
    const user = await registerUser(server, 'uma');
    const { factors, passkeys } = server.gatehouse.services;
    const secret = await factors.startTotpEnrolment(user.account.id);
    const codes = (await factors.confirmTotp(user.account.id, totpCode(secret))) ?? [];
    await passkeys.add({ id: 'cred-uma', accountId: user.account.id, name: 'Key', publicKey: new Uint8Array([9]), counter: 0, transports: [], deviceType: 'singleDevice', backedUp: false });
    const browser = new HttpBrowser();
    await signInAndRedeem(server, await discoverClient(server, 'spa'), { ...user, secondFactor: () => ({ recovery_code: codes[0] ?? '' }) }, {}, browser);
    expect(await server.gatehouse.services.sessions.listForAccount(user.account.id)).toHaveLength(1);

    const listed = await admin('/users/uma/factors');
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ mfaRequired: false, recoveryCodesLeft: 9, passkeys: [{ id: 'cred-uma', name: 'Key', deviceType: 'singleDevice' }] });
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    const reset = await admin('/users/uma/factors', { method: 'DELETE' });
    expect(reset).toEqual({ status: 200, body: { totp: true, passkeys: 1, sessionsEnded: 1 } });
    expect(await server.gatehouse.services.sessions.listForAccount(user.account.id)).toHaveLength(0);
    expect((await admin('/users/uma/factors')).body).toMatchObject({ totp: null, recoveryCodesLeft: 0, passkeys: [] });
    expect(server.logs.join('\n')).toContain('user.factors_reset');
  });

  it('requires multi-factor sign-in for a user: the next sign-in sets up an authenticator app', async () => {
    const user = await registerUser(server, 'vera');
    const required = await admin('/users/vera/mfa-required', { method: 'PUT', body: { required: true } });
    expect(required.status).toBe(200);
    expect(required.body['mfaRequired']).toBe(true);
    const secrets: { secret?: string } = {};
    const { tokens } = await signInAndRedeem(server, await discoverClient(server, 'spa'), {
      ...user,
      secondFactor: (page) => {
        secrets.secret = (/id="totp-key"[^>]*>([^<]+)</.exec(page)?.[1] ?? '').replace(/\s+/g, '');
        return { code: totpCode(secrets.secret) };
      },
    });
    expect(tokens.claims()?.acr).toBe(ACR_MFA);
    expect(await server.gatehouse.services.factors.hasTotp(user.account.id)).toBe(true);
  });

  it('refuses bad input and unknown users plainly', async () => {
    expect((await admin('/users/vera/mfa-required', { method: 'PUT', body: { required: 'yes' } })).status).toBe(400);
    expect((await admin('/users/vera/mfa-required', { method: 'PUT', body: { required: true, extra: 1 } })).status).toBe(400);
    expect((await admin('/users/nobody/factors')).status).toBe(404);
    expect((await admin('/users/nobody/factors', { method: 'DELETE' })).status).toBe(404);
  });
});

// On the embedded database the server owns the data folder, so the commands travel over its socket.
describe.each(['postgres', 'embedded'] as const)('MFA CLI (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  const gatehouse = (args: string[]) => runToEnd('src/cli/main.ts', args, { ...storage.env, ISSUER: server.issuer });

  it('lists, requires and resets a user’s factors', async () => {
    const user = await registerUser(server, 'wanda');
    const secret = await server.gatehouse.services.factors.startTotpEnrolment(user.account.id);
    await server.gatehouse.services.factors.confirmTotp(user.account.id, totpCode(secret));

    const listed = await gatehouse(['users', 'factors', 'wanda', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({ mfaRequired: false, recoveryCodesLeft: 10, passkeys: [] });

    const required = await gatehouse(['users', 'require-mfa', 'wanda']);
    expect(required.code).toBe(0);
    expect(required.stdout).toContain('multi-factor sign-in required');
    expect(await server.gatehouse.services.factors.isRequired(user.account.id)).toBe(true);

    const reset = await gatehouse(['users', 'reset-factors', 'wanda', '--json']);
    expect(JSON.parse(reset.stdout)).toEqual({ totp: true, passkeys: 0, sessionsEnded: 0 });
    expect(await server.gatehouse.services.factors.hasTotp(user.account.id)).toBe(false);

    expect((await gatehouse(['users', 'factors'])).code).toBe(2);
    expect((await gatehouse(['users', 'factors', 'nobody'])).code).toBe(65);
  });
});
