/**
 * MFA on two replicas of one PostgreSQL (OPS-4): a sign-in whose password went to one replica
 * finishes with its code on the other; a code accepted by one is refused by the other; a passkey
 * challenge issued by one is answered at the other, once; a challenge stored by one is taken
 * once, by either.
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { REDIRECT_URI, registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, freePort, loggedEvents, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { discoverClient } from '../support/sign-in.js';
import { addSoftwarePasskey } from '../support/software-passkey.js';
import { currentStep, totpCode } from '../support/totp.js';

let storage: TestStorage;
let a: TestServer;
let b: TestServer;
let issuer: string;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  const [portA, portB] = [await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${portA}`;
  a = await startTestServer(storage, { PORT: String(portA), ISSUER: issuer, TRUST_PROXY: 'true' });
  b = await startTestServer(storage, { PORT: String(portB), ISSUER: issuer, TRUST_PROXY: 'true' });
  await registerApi(a);
  await registerSpaClient(a);
  await b.gatehouse.live.refresh();
});

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await storage?.dispose();
});

/** The same browser, its requests now reaching replica `to` (as a load balancer would send them). */
function sameBrowserVia(from: HttpBrowser, to: TestServer): HttpBrowser {
  const moved = new HttpBrowser({ proxy: { publicOrigin: issuer, listener: `http://127.0.0.1:${to.config.port}`, https: false } });
  for (const name of from.jar.names()) moved.jar.set(name, from.jar.get(name) ?? '');
  return moved;
}

/** A new sign-in on replica A, at its login page: the interaction id. */
async function loginPageOnA(browser: HttpBrowser): Promise<string> {
  const spa = await discoverClient(a, 'spa');
  const url = oidc.buildAuthorizationUrl(spa, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: 's',
  });
  const login = await browser.follow(url, issuer);
  return login.url.pathname.split('/')[2] ?? '';
}

async function passwordOnA(browser: HttpBrowser, user: { username: string; password: string }): Promise<string> {
  const uid = await loginPageOnA(browser);
  const next = await browser.follow(`${issuer}/interaction/${uid}/login`, issuer, { form: { username: user.username, password: user.password } });
  expect(await next.page?.text()).toContain('Two-step verification');
  return uid;
}

describe('MFA-2 across replicas', () => {
  it('finishes on replica B a sign-in whose password went to replica A; the code is then spent on both', async () => {
    const user = await registerUser(a, 'xena');
    const secret = await a.gatehouse.services.factors.startTotpEnrolment(user.account.id);
    await a.gatehouse.services.factors.confirmTotp(user.account.id, totpCode(secret));
    const code = totpCode(secret, currentStep() + 1);

    const onA = new HttpBrowser();
    const uid = await passwordOnA(onA, user);
    const onB = sameBrowserVia(onA, b);
    const accepted = await onB.request(`${issuer}/interaction/${uid}/second-factor`, { form: { code } });
    expect(accepted.status).toBe(303);
    const next = await onB.follow(new URL(accepted.headers.get('location') ?? '', issuer), issuer);
    expect(await next.page?.text()).toContain('/confirm"');

    // The same code, now at replica A for another sign-in: refused.
    const again = new HttpBrowser();
    const otherUid = await passwordOnA(again, user);
    const replay = await again.request(`${issuer}/interaction/${otherUid}/second-factor`, { form: { code } });
    expect(replay.status).toBe(401);
  });

  it('answers on replica B a passkey challenge issued by replica A, once: the same assertion is then refused at A', async () => {
    const user = await registerUser(a, 'yuri');
    const passkey = await addSoftwarePasskey(a.gatehouse.services.passkeys, user.account.id, issuer);
    const onA = new HttpBrowser();
    const uid = await loginPageOnA(onA);
    const options = await onA.request(`${issuer}/interaction/${uid}/passkey/options`, { method: 'POST' });
    expect(options.status).toBe(200);
    const { challenge } = (await options.json()) as { challenge: string };
    const assertion = passkey.assertionForm(challenge);

    const onB = sameBrowserVia(onA, b);
    const signedIn = await onB.request(`${issuer}/interaction/${uid}/passkey`, { form: assertion });
    expect(signedIn.status).toBe(303);
    expect(loggedEvents(b, 'passkey_sign_in_succeeded')).toEqual([expect.objectContaining({ accountId: user.account.id })]);

    // The same valid assertion for the same, still open, interaction: its challenge is spent.
    const replayed = await onA.request(`${issuer}/interaction/${uid}/passkey`, { form: assertion });
    expect(replayed.status).toBe(401);
    expect(loggedEvents(a, 'passkey_sign_in_failed')).toEqual([expect.objectContaining({ reason: 'no_challenge', accountId: user.account.id })]);

    const next = await onB.follow(new URL(signedIn.headers.get('location') ?? '', issuer), issuer);
    expect(await next.page?.text()).toContain('/confirm"');
  });

  it('a challenge stored by one replica is taken once, by either', async () => {
    await a.gatehouse.services.interactionStates.put('shared-uid', 'passkey-challenge', undefined, { challenge: 'c1' }, 60);
    const [fromB, fromA] = await Promise.all([
      b.gatehouse.services.interactionStates.take<{ challenge: string }>('shared-uid', 'passkey-challenge'),
      a.gatehouse.services.interactionStates.take<{ challenge: string }>('shared-uid', 'passkey-challenge'),
    ]);
    expect([fromB, fromA].filter(Boolean).map((state) => state?.payload.challenge)).toEqual(['c1']);
  });
});
