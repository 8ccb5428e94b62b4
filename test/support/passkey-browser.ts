/**
 * The set-up of a passkey sign-in test whose assertions the test sends itself: a server on
 * http://localhost (WebAuthn refuses IP addresses as RP IDs) with the API and the SPA client,
 * one user who has added a passkey in the account area and signed out again, and Chromium with
 * the virtual authenticator holding that passkey.
 */
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { registerApi, registerSpaClient, registerUser } from './fixtures.js';
import { assertionHolder, promptLoginUrl, type AssertionHolder } from './held-assertion.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from './server.js';
import { addVirtualAuthenticator, enrolPasskeyAndSignOut, type VirtualAuthenticator } from './virtual-authenticator.js';

export interface PasskeyBrowser {
  readonly server: TestServer;
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly authenticator: VirtualAuthenticator;
  readonly holder: AssertionHolder;
  readonly spa: oidc.Configuration;
  readonly user: { username: string; password: string; account: { id: string } };
  close(): Promise<void>;
}

export interface PasskeyBrowserOptions {
  readonly username: string;
  readonly passkeyName: string;
  /** The `state` of every sign-in the holder starts. */
  readonly state: string;
  readonly env?: Record<string, string>;
  /** Sent as X-Forwarded-For while the passkey is added, to keep that sign-in out of the tested addresses. */
  readonly enrolFrom?: string;
}

export async function startPasskeyBrowser(options: PasskeyBrowserOptions): Promise<PasskeyBrowser> {
  const storage: TestStorage = await createTestStorage('postgres');
  const port = await freePort();
  const server = await startTestServer(storage, { PORT: String(port), ISSUER: `http://localhost:${port}`, ...options.env });
  await registerApi(server);
  await registerSpaClient(server);
  const spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  const user = await registerUser(server, options.username);
  const browser = await launchChromium();
  const context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  await context.route('https://app.test.example/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<p>client</p>' }));
  const page = await context.newPage();
  const authenticator = await addVirtualAuthenticator(context, page);
  const holder = assertionHolder(page, authenticator, server.issuer, () => promptLoginUrl(spa, options.state));
  if (options.enrolFrom) await context.setExtraHTTPHeaders({ 'x-forwarded-for': options.enrolFrom });
  await enrolPasskeyAndSignOut(page, authenticator, server.issuer, user, options.passkeyName);
  return {
    server, browser, context, page, authenticator, holder, spa, user,
    async close() {
      await context.close();
      await browser.close();
      await server.stop();
      await storage.dispose();
    },
  };
}
