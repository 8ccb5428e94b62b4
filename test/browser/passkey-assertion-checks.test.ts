/**
 * MFA-1 checks on a passkey assertion beyond its signature, in real Chromium with a virtual
 * authenticator (whose credential the Chrome DevTools Protocol can change) on PostgreSQL: an
 * authenticator whose signature counter went backwards (a clone) is refused and the stored
 * counter kept; a credential registered device-bound that now says it is backup eligible (a
 * synced copy) is refused and its stored type kept; the log says what happened without any of
 * the assertion. Removing the passkey then offers, pre-selected, to sign out the user's other
 * sessions, like removing an authenticator app. Enrolment, use and removal are logged and counted.
 *
 * Assertions are held and sent by the test (test/support/held-assertion.ts), so a refusal page
 * never starts another autofill ceremony.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Held } from '../support/held-assertion.js';
import { startPasskeyBrowser, type PasskeyBrowser } from '../support/passkey-browser.js';
import { counterValue, linesLeaking, loggedEvents, type TestServer } from '../support/server.js';
import { signInToAccountArea } from '../support/virtual-authenticator.js';

let fixture: PasskeyBrowser;
let server: TestServer;
let page: Page;
let user: PasskeyBrowser['user'];
// Every assertion the test held: none of it may reach the log.
const assertions: string[] = [];

beforeAll(async () => {
  fixture = await startPasskeyBrowser({ username: 'clara', passkeyName: 'Desk key', state: 'checks' });
  ({ server, page, user } = fixture);
});

afterAll(() => fixture?.close());

async function stored() {
  const [passkey] = await server.gatehouse.services.passkeys.list(user.account.id);
  return { counter: passkey?.counter, deviceType: passkey?.deviceType, backedUp: passkey?.backedUp, lastUsedAt: passkey?.lastUsedAt?.getTime() };
}

async function hold(): Promise<Held> {
  const held = await fixture.holder.hold();
  const response = JSON.parse(new URLSearchParams(held.body).get('response') ?? '{}') as { response: Record<string, string> };
  const { clientDataJSON = '', authenticatorData = '', signature = '' } = response.response;
  const { challenge = '' } = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: string };
  assertions.push(clientDataJSON, authenticatorData, signature, challenge);
  return held;
}

describe('MFA-1 a passkey assertion is checked beyond its signature', () => {
  it('logs and counts the registration, then signs in with the passkey and logs that without the assertion', async () => {
    expect(loggedEvents(server, 'passkey_registered')).toEqual([
      expect.objectContaining({ accountId: user.account.id, deviceType: 'singleDevice', backedUp: false }),
    ]);
    expect(await counterValue(server, 'gatehouse_second_factor_total', 'method="passkey",result="enrolled"')).toBe(1);
    const held = await hold();
    expect((await fixture.holder.send(held.uid, held.body)).status).toBe(303);
    expect(loggedEvents(server, 'passkey_sign_in_succeeded')).toEqual([
      expect.objectContaining({ accountId: user.account.id, clientId: 'spa', backedUp: false }),
    ]);
    expect(await counterValue(server, 'gatehouse_second_factor_total', 'method="passkey",result="ok"')).toBe(1);
  });

  it('refuses an authenticator whose signature counter went backwards (a clone) and keeps the stored counter', async () => {
    const before = await stored();
    const [credential] = await fixture.authenticator.credentials();
    expect(before.counter).toBeGreaterThan(1);
    // A copy of the key made before the last sign-in: its next assertion counts below the stored one.
    await fixture.authenticator.setCredential({ signCount: (before.counter ?? 0) - 2 });
    onTestFinished(() => fixture.authenticator.setCredential({ signCount: credential?.signCount ?? 0 }));
    const cloned = await hold();
    const answer = await fixture.holder.send(cloned.uid, cloned.body);
    expect(answer.status).toBe(401);
    expect(answer.text).toContain('That passkey could not be used');
    expect(await stored()).toEqual(before);
    expect(loggedEvents(server, 'passkey_sign_in_failed')).toEqual([expect.objectContaining({ reason: 'not_verified', accountId: user.account.id, clientId: 'spa' })]);
    expect(await counterValue(server, 'gatehouse_second_factor_total', 'method="passkey",result="failed"')).toBe(1);
  });

  it('refuses a device-bound credential that now says it is backup eligible, and keeps its stored type', async () => {
    const before = await stored();
    expect(before).toMatchObject({ deviceType: 'singleDevice', backedUp: false });
    await fixture.authenticator.setCredential({ backupEligibility: true, backupState: true });
    onTestFinished(() => fixture.authenticator.setCredential({ backupEligibility: false, backupState: false }));
    const synced = await hold();
    const answer = await fixture.holder.send(synced.uid, synced.body);
    expect(answer.status).toBe(401);
    expect(await stored()).toEqual(before);
    expect(loggedEvents(server, 'passkey_sign_in_failed').at(-1)).toMatchObject({ reason: 'device_type_changed', accountId: user.account.id });
  });

  it('still signs in with the credential as registered: only the changes were refused', async () => {
    const bound = await hold();
    expect((await fixture.holder.send(bound.uid, bound.body)).status).toBe(303);
  });

  it('removing the passkey offers, pre-selected, to sign out the other sessions; logged and counted', async () => {
    const elsewhere = await fixture.browser.newContext();
    await signInToAccountArea(await elsewhere.newPage(), server.issuer, user);
    await signInToAccountArea(page, server.issuer, user);
    expect(await server.gatehouse.services.sessions.listForAccount(user.account.id)).toHaveLength(2);
    await page.getByRole('link', { name: 'Passkeys' }).click();
    await page.getByText('Rename or remove').click();
    await page.getByLabel('Current password, to remove Desk key').fill(user.password);
    await page.getByRole('button', { name: 'Remove Desk key' }).click();
    await page.getByText('The passkey is removed.').waitFor();
    const offer = page.getByLabel('Sign out all other sessions and revoke their access');
    expect(await offer.count()).toBe(1);
    expect(await offer.isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('All your other sessions are signed out.').waitFor();
    expect(await server.gatehouse.services.sessions.listForAccount(user.account.id)).toHaveLength(1);
    await elsewhere.close();
    expect(loggedEvents(server, 'passkey_removed')).toEqual([expect.objectContaining({ accountId: user.account.id })]);
    expect(await counterValue(server, 'gatehouse_second_factor_total', 'method="passkey",result="removed"')).toBe(1);
  });

  it('never logged any part of an assertion, nor the password', () => {
    expect(assertions.length).toBeGreaterThan(0);
    expect(linesLeaking(server, [...assertions, user.password])).toEqual([]);
  });
});
