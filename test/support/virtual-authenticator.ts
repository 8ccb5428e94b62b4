/**
 * A WebAuthn authenticator for real Chromium, made by the Chrome DevTools Protocol: a platform
 * authenticator with resident keys and user verification, whose "user" touches it only when a
 * test says so (the login page starts a conditional autofill request on load, which a touched
 * authenticator answers at once).
 */
import type { BrowserContext, CDPSession, Page } from 'playwright-core';

export interface VirtualAuthenticator {
  readonly cdp: CDPSession;
  readonly id: string;
  /** Whether the authenticator answers requests by itself, as if touched and verified. */
  touch(enabled: boolean): Promise<void>;
  credentials(): Promise<{ credentialId: string; isResidentCredential: boolean; rpId?: string | undefined; userHandle?: string | undefined; signCount: number }[]>;
  /** Changes what the authenticator's one credential reports from now on (a clone, a synced key). */
  setCredential(properties: { signCount?: number; backupEligibility?: boolean; backupState?: boolean }): Promise<void>;
}

/** An authenticator attached to `page` (the CDP session belongs to that page only). */
export async function addVirtualAuthenticator(context: BrowserContext, page: Page): Promise<VirtualAuthenticator> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId: id } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: false },
  });
  return {
    cdp,
    id,
    async touch(enabled) {
      await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: id, enabled });
    },
    async credentials() {
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
      return credentials;
    },
    async setCredential(properties) {
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
      if (credentials.length !== 1) throw new Error(`expected one credential, the authenticator has ${credentials.length}`);
      await cdp.send('WebAuthn.setCredentialProperties', { authenticatorId: id, credentialId: credentials[0]?.credentialId ?? '', ...properties });
    },
  };
}

/** On the account area's Passkeys page of a recently signed-in user: adds a passkey named `name`. */
export async function addPasskey(page: Page, authenticator: VirtualAuthenticator, name: string): Promise<void> {
  await page.getByLabel('Name').fill(name);
  await authenticator.touch(true);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByText('The passkey is added.').waitFor();
  await authenticator.touch(false);
}

/** From a signed-out browser: signs `user` in to the account area with their password. */
export async function signInToAccountArea(page: Page, issuer: string, user: { username: string; password: string }): Promise<void> {
  await page.goto(`${issuer}/account`);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
}

/** From a signed-out browser: signs `user` in to the account area, adds a passkey named `name`, signs out. */
export async function enrolPasskeyAndSignOut(page: Page, authenticator: VirtualAuthenticator, issuer: string, user: { username: string; password: string }, name: string): Promise<void> {
  await signInToAccountArea(page, issuer, user);
  await page.getByRole('link', { name: 'Passkeys' }).click();
  await addPasskey(page, authenticator, name);
  await page.goto(`${issuer}/account`);
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}
