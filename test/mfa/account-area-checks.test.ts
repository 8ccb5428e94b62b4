/**
 * Checks of what the user knows from inside the account area (API-2, SESS-10): the current
 * password asked before removing an authenticator app or a passkey, and the first code of a new
 * app, are counted and throttled under the account's name like sign-in attempts; confirming a
 * new app needs a recent sign-in; a pending app secret expires after 15 minutes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { discoverClient, signInAndRedeem } from '../support/sign-in.js';
import { totpCode } from '../support/totp.js';

let storage: TestStorage;
let server: TestServer;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage, { LOGIN_FREE_FAILURES_PER_ACCOUNT_IP: '2' });
  await registerApi(server);
  await registerSpaClient(server);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

async function signedIn(name: string) {
  const user = await registerUser(server, name);
  const browser = new HttpBrowser();
  await signInAndRedeem(server, await discoverClient(server, 'spa'), user, {}, browser);
  const page = await (await browser.request(`${server.issuer}/account/security`)).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  expect(csrf).not.toBe('');
  return { user, browser, csrf };
}

/** Guesses until a wait long enough to outlast a slow machine's next request; returns every status and that answer. */
async function guessUntilThrottled(attempt: (guess: number) => Promise<Response>) {
  const statuses: number[] = [];
  for (let guess = 0; guess < 12; guess += 1) {
    const answer = await attempt(guess);
    statuses.push(answer.status);
    const wait = Number(answer.headers.get('retry-after'));
    if (answer.status === 429 && wait >= 4) return { statuses, throttled: answer };
    if (answer.status === 429) await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 50));
  }
  return { statuses, throttled: undefined };
}

const backdate = (table: string, column: string, accountId: string) =>
  server.gatehouse.services.db.knex.raw(`UPDATE ${table} SET ${column} = now() - interval '1 hour' WHERE account_id = ?`, [accountId]);

describe('API-2: password checks in the account area are throttled like sign-in', () => {
  for (const [form, path] of [['an authenticator app', '/account/totp/remove'], ['a passkey', '/account/passkeys/some-passkey/remove']] as const) {
    it(`removing ${form} counts wrong current passwords under the account's name`, async () => {
      const { user, browser, csrf } = await signedIn(`guess-${form.replace(/\W/g, '')}`);
      const { statuses, throttled } = await guessUntilThrottled((guess) =>
        browser.request(`${server.issuer}${path}`, { form: { csrf, current_password: `wrong-guess-${guess}-xxxxxx` } }),
      );
      expect(statuses.slice(0, 2)).toEqual([400, 400]);
      expect(throttled).toBeDefined();
      expect(await throttled?.text()).toMatch(/Try again in \d+ seconds/);
      // The right password is not even checked while throttled.
      const right = await browser.request(`${server.issuer}${path}`, { form: { csrf, current_password: user.password } });
      expect(right.status).toBe(429);
    });
  }
});

describe('confirming a new authenticator app', () => {
  it('is throttled like sign-in', async () => {
    const { user, browser, csrf } = await signedIn('guess-code');
    const setup = await browser.request(`${server.issuer}/account/totp/start`, { form: { csrf } });
    expect(setup.status).toBe(200);
    const { statuses, throttled } = await guessUntilThrottled(() => browser.request(`${server.issuer}/account/totp/confirm`, { form: { csrf, code: '000000' } }));
    expect(statuses.slice(0, 2)).toEqual([400, 400]);
    expect(throttled).toBeDefined();
    const secret = await server.gatehouse.services.factors.pendingTotpSecret(user.account.id);
    const right = await browser.request(`${server.issuer}/account/totp/confirm`, { form: { csrf, code: totpCode(secret ?? '') } });
    expect(right.status).toBe(429);
    expect(await server.gatehouse.services.factors.hasTotp(user.account.id)).toBe(false);
  });

  it('needs a recent sign-in, and a secret waiting more than 15 minutes is gone', async () => {
    const { user, browser, csrf } = await signedIn('late-code');
    const factors = server.gatehouse.services.factors;
    await browser.request(`${server.issuer}/account/totp/start`, { form: { csrf } });
    const secret = (await factors.pendingTotpSecret(user.account.id)) ?? '';
    expect(secret).not.toBe('');
    await server.gatehouse.services.db.knex.raw(
      "UPDATE oidc_records SET payload = jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch from now())::int - 3600)) WHERE model = 'Session' AND account_id = ?",
      [user.account.id],
    );
    const stale = await browser.request(`${server.issuer}/account/totp/confirm`, { form: { csrf, code: '000000' } });
    expect(stale.status).toBe(403);
    const page = await stale.text();
    expect(page).toContain('Confirm it is you');
    expect(page).not.toContain('totp-key');
    expect(await factors.hasTotp(user.account.id)).toBe(false);

    // The secret itself expires: 15 minutes after it was made, its first code no longer confirms it.
    await backdate('totp_factors', 'created_at', user.account.id);
    expect(await factors.pendingTotpSecret(user.account.id)).toBeUndefined();
    expect(await factors.confirmTotp(user.account.id, totpCode(secret))).toBeUndefined();
    expect(await factors.hasTotp(user.account.id)).toBe(false);
  });
});
