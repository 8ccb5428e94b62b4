/**
 * Passwords outside the sign-in form (API-2, SESS-10, issue 13 items 7, 8, 10): the account
 * area's password change is throttled like sign-in; an operator's reset ends the user's
 * sessions and refresh tokens unless told to keep them; the decoy hash exists before the first
 * request.
 */
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_API } from '../../src/admin/admin-api.js';
import { decoyHashReady } from '../../src/accounts/passwords.js';
import { registerClients } from '../../src/clients/register.js';
import { HttpBrowser } from '../support/browser-over-http.js';
import { REDIRECT_URI, registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { runToEnd } from '../support/process.js';
import { signInAndRedeem } from '../support/sign-in.js';

// Storage, CLI and admin writes: on PostgreSQL and on the embedded database (through the socket).
describe.each(['postgres', 'embedded'] as const)('password operations (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  let decoyReadyAtStart = false;
  let spa: oidc.Configuration;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage, { LOGIN_FREE_FAILURES_PER_ACCOUNT_IP: '2' });
    decoyReadyAtStart = decoyHashReady();
    await registerApi(server);
    await registerSpaClient(server);
    spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  async function signIn(user: { username: string; password: string }, browser = new HttpBrowser()) {
    const { tokens } = await signInAndRedeem(server, spa, user, { scope: 'openid offline_access' }, browser);
    return { browser, refreshToken: tokens.refresh_token ?? '' };
  }

  /** The rotated refresh token if `refreshToken` still works, else undefined. */
  async function refreshed(refreshToken: string): Promise<string | undefined> {
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'spa' }),
    });
    return response.status === 200 ? ((await response.json()) as { refresh_token: string }).refresh_token : undefined;
  }
  const refreshes = async (refreshToken: string) => (await refreshed(refreshToken)) !== undefined;

  describe('item 10: the login decoy hash', () => {
    it('is built when the server starts, not by the first unknown-user sign-in', () => {
      expect(decoyReadyAtStart).toBe(true);
    });
  });

  describe('item 7: password change in the account area (API-2)', () => {
    it('counts a wrong current password like a failed sign-in, so a stolen session cannot guess quickly', async () => {
      const user = await registerUser(server, 'pat');
      const { browser } = await signIn(user);
      const page = await (await browser.request(`${server.issuer}/account/password`)).text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
      expect(csrf).not.toBe('');
      const attempt = (current: string) =>
        browser.request(`${server.issuer}/account/password`, {
          form: { csrf, current_password: current, new_password: 'a-brand-new-password-42', confirm_password: 'a-brand-new-password-42' },
        });
      const statuses: number[] = [];
      // Past the free allowance (2 here) each failure doubles a wait; keep guessing until a wait
      // long enough to outlast a slow machine's next request (the doubling gets there quickly).
      let throttled: Response | undefined;
      for (let guess = 0; guess < 12 && !throttled; guess += 1) {
        const answer = await attempt(`wrong-guess-${guess}-xxxxxx`);
        statuses.push(answer.status);
        const wait = Number(answer.headers.get('retry-after'));
        if (answer.status === 429 && wait >= 4) throttled = answer;
        // A patient guesser waits out the shorter waits (a throttled guess is not even counted).
        else if (answer.status === 429) await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 50));
      }
      expect(statuses.slice(0, 2)).toEqual([400, 400]);
      expect(statuses).toContain(429);
      expect(throttled).toBeDefined();
      expect(await throttled?.text()).toMatch(/Try again in \d+ seconds/);
      // The same counters as the sign-in form: the name is throttled there too.
      const login = await browser.follow(
        oidc.buildAuthorizationUrl(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256', prompt: 'login' }),
        server.issuer,
      );
      const uid = login.url.pathname.split('/')[2];
      const form = await browser.request(`${server.issuer}/interaction/${uid}/login`, { form: { username: 'pat', password: user.password } });
      expect(form.status).toBe(429);
      expect(server.logs.join('')).toContain('"event":"password_change_throttled"');
    });
  });

  describe('item 8: operator password reset', () => {
    const cli = (args: string[], stdin: string) => runToEnd('src/cli/main.ts', args, { ...storage.env, ISSUER: server.issuer }, { stdin });

    it('`users set-password` ends sessions and revokes refresh tokens, even of expired sessions; --keep-sessions keeps them', async () => {
      const user = await registerUser(server, 'quinn');
      const first = await signIn(user);
      const second = await signIn(user);
      // One session already gone (expired): its offline grant's refresh token must still die.
      const rows = await server.gatehouse.services.db.knex('oidc_records').where({ model: 'Session', account_id: user.account.id }).select('id');
      expect(rows).toHaveLength(2);
      await server.gatehouse.services.db.knex('oidc_records').where({ model: 'Session', id: rows[0].id }).delete();
      const kept = await cli(['users', 'set-password', 'quinn', '--password-stdin', '--keep-sessions'], `${randomBytes(16).toString('hex')}\n`);
      expect(kept).toMatchObject({ code: 0 });
      expect(kept.stdout).toContain('sessions and refresh tokens kept');
      expect(await server.gatehouse.services.sessions.listForAccount(user.account.id)).toHaveLength(1);

      const reset = await cli(['users', 'set-password', 'quinn', '--password-stdin'], `${randomBytes(16).toString('hex')}\n`);
      expect(reset).toMatchObject({ code: 0 });
      expect(reset.stdout).toMatch(/ended 1 session and revoked 2 grants/);
      expect(await server.gatehouse.services.sessions.listForAccount(user.account.id)).toHaveLength(0);
      // Refresh tokens rotate, so the tokens from the sign-ins are the ones to try.
      expect(await refreshes(first.refreshToken)).toBe(false);
      expect(await refreshes(second.refreshToken)).toBe(false);
    });

    it('the admin API does the same, says what it ended, and keeps sessions with keep_sessions: true', async () => {
      const secret = randomBytes(32).toString('base64url');
      await registerClients(
        [{ client_id: 'ops-writer', client_secret: secret, grant_types: ['client_credentials'], scope: 'admin:read admin:write' }],
        server.gatehouse.live.current,
        server.gatehouse.services.clients,
      );
      const ops = await oidc.discovery(new URL(server.issuer), 'ops-writer', undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
      const token = (await oidc.clientCredentialsGrant(ops, { resource: ADMIN_API, scope: 'admin:read admin:write' })).access_token;
      const setPassword = (body: object) =>
        fetch(`${server.issuer}/admin/v1/users/rosa/password`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const user = await registerUser(server, 'rosa');
      const session = await signIn(user);

      const kept = await setPassword({ password: randomBytes(16).toString('hex'), keep_sessions: true });
      expect(kept.status).toBe(200);
      expect(await kept.json()).toMatchObject({ sessions_ended: false });
      const rotated = await refreshed(session.refreshToken);
      expect(rotated).toBeDefined();

      const again = await signIn({ username: 'rosa', password: user.password }).catch(() => undefined);
      expect(again).toBeUndefined();
      const reset = await setPassword({ password: randomBytes(16).toString('hex') });
      expect(reset.status).toBe(200);
      expect(await reset.json()).toMatchObject({ sessions_ended: true, ended_sessions: 1, revoked_grants: 1 });
      expect(await refreshes(session.refreshToken)).toBe(false);
      expect(await server.gatehouse.services.sessions.listForAccount(user.account.id)).toHaveLength(0);
      expect((await setPassword({ password: randomBytes(16).toString('hex'), keep_sessions: 'yes' })).status).toBe(400);
    });
  });
});
