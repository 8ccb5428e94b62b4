/**
 * FLOW-9 native and mobile apps (RFC 8252, RFC 9700): a public native client with a loopback
 * redirect registered without a port signs in through real Chromium on whatever port the app
 * happened to get (the login and consent pages' form-action must allow it), and private-use
 * scheme and claimed https redirects complete for public clients.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { launchChromium } from '../support/chromium.js';
import { API, registerApi, registerClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

const PRIVATE_USE = 'com.example.app:/oauth2redirect';
const CLAIMED_HTTPS = 'https://app.native.example/oauth2redirect';

let storage: TestStorage;
let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  await registerClient(server, {
    client_id: 'native-app',
    client_name: 'Native App',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]/cb', PRIVATE_USE, CLAIMED_HTTPS],
    post_logout_redirect_uris: ['http://127.0.0.1/signed-out'],
    scope: 'openid profile things:read',
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await storage?.dispose();
});

async function nativeClient(): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(server.issuer), 'native-app', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

async function authorizationUrl(client: oidc.Configuration, redirectUri: string, verifier: string): Promise<URL> {
  return oidc.buildAuthorizationUrl(client, {
    redirect_uri: redirectUri,
    scope: 'openid profile things:read',
    resource: API,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'native-state',
  });
}

/** What a native app does: listen on a loopback address, on a port the system picks. */
async function loopbackListener(host: '127.0.0.1' | '::1') {
  let resolveCallback: (url: URL) => void = () => undefined;
  const callback = new Promise<URL>((resolve) => (resolveCallback = resolve));
  const listener = http.createServer((req, res) => {
    const { port } = listener.address() as AddressInfo;
    resolveCallback(new URL(req.url ?? '/', `http://${host === '::1' ? '[::1]' : host}:${port}`));
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>You can close this window.</p>');
  });
  await new Promise<void>((resolve) => listener.listen(0, host, resolve));
  const { port } = listener.address() as AddressInfo;
  return { port, callback, close: () => new Promise<void>((resolve) => listener.close(() => resolve())) };
}

describe('FLOW-9 native apps', () => {
  for (const host of ['127.0.0.1', '::1'] as const) {
    it(`signs in through Chromium to a loopback redirect on a random port (${host})`, async () => {
      const user = await registerUser(server, `native-${host === '::1' ? 'v6' : 'v4'}`);
      const app = await loopbackListener(host);
      const client = await nativeClient();
      const verifier = oidc.randomPKCECodeVerifier();
      const redirectUri = `http://${host === '::1' ? '[::1]' : host}:${app.port}/cb`;
      const context = await browser.newContext();
      const page = await context.newPage();
      const cspViolations: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
      });
      try {
        await page.goto((await authorizationUrl(client, redirectUri, verifier)).href);
        await page.getByLabel('Username').fill(user.username);
        await page.getByLabel('Password').fill(user.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('button', { name: 'Allow' }).click();
        const callback = await app.callback;
        expect(callback.port).toBe(String(app.port));
        await page.getByText('You can close this window.').waitFor();
        const tokens = await oidc.authorizationCodeGrant(client, callback, { pkceCodeVerifier: verifier, expectedState: 'native-state' });
        expect(tokens.claims()?.sub).toBe(user.account.id);
        // A public client's refresh token rotates on every use.
        const refreshed = await oidc.refreshTokenGrant(client, tokens.refresh_token ?? '');
        expect(refreshed.refresh_token).toBeTruthy();
        expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
        if (host === '127.0.0.1') {
          // RP-initiated logout back to the app: its loopback post-logout URI also matches any port.
          const signedOut = await loopbackListener(host);
          try {
            const end = `${server.issuer}/session/end?client_id=native-app&post_logout_redirect_uri=${encodeURIComponent(`http://127.0.0.1:${signedOut.port}/signed-out`)}`;
            await page.goto(end);
            await page.getByRole('button', { name: 'Sign out' }).click();
            expect((await signedOut.callback).pathname).toBe('/signed-out');
          } finally {
            await signedOut.close();
          }
        }
        expect(cspViolations).toEqual([]);
      } finally {
        await context.close();
        await app.close();
      }
    });
  }

  it('widens form-action by exactly the loopback port this sign-in asked for', async () => {
    const client = await nativeClient();
    const formAction = async (redirectUri: string) => {
      const login = await new HttpBrowser().follow(await authorizationUrl(client, redirectUri, oidc.randomPKCECodeVerifier()), server.issuer);
      const csp = login.page?.headers.get('content-security-policy') ?? '';
      return /form-action ([^;]*)/.exec(csp)?.[1]?.split(' ') ?? [];
    };
    // Chromium cannot express an IPv6 literal in CSP: the port-less registered [::1] is left out,
    // the requested one becomes any http host, but only on that port.
    const registered = ["'self'", 'http://127.0.0.1', 'com.example.app:', 'https://app.native.example'];
    expect(await formAction('http://127.0.0.1:4567/cb')).toEqual([...registered, 'http://127.0.0.1:4567']);
    expect(await formAction('http://[::1]:4568/cb')).toEqual([...registered, 'http://*:4568']);
    // http://*:443 would also match every https site (CSP lets http sources upgrade).
    expect(await formAction('http://[::1]:443/cb')).toEqual(registered);
    expect(await formAction(PRIVATE_USE)).toEqual(registered);
  });

  it('requires PKCE from the public native client', async () => {
    const client = await nativeClient();
    const url = oidc.buildAuthorizationUrl(client, { redirect_uri: PRIVATE_USE, scope: 'openid', state: 'no-pkce' });
    const answer = await new HttpBrowser().follow(url, server.issuer);
    expect(answer.url.href.startsWith(`${PRIVATE_USE}?`)).toBe(true);
    expect(answer.url.searchParams.get('error')).toBe('invalid_request');
    expect(answer.url.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  for (const redirectUri of [PRIVATE_USE, CLAIMED_HTTPS]) {
    it(`completes a public client's flow to ${redirectUri.split(':')[0]} redirect ${redirectUri}`, async () => {
      const user = await registerUser(server, `native-${redirectUri.length}`);
      const client = await nativeClient();
      const verifier = oidc.randomPKCECodeVerifier();
      const callback = await new HttpBrowser().authorize(await authorizationUrl(client, redirectUri, verifier), server.issuer, user);
      expect(callback.href.startsWith(`${redirectUri}?`)).toBe(true);
      const tokens = await oidc.authorizationCodeGrant(client, callback, { pkceCodeVerifier: verifier, expectedState: 'native-state' }, { redirect_uri: redirectUri });
      expect(tokens.claims()?.sub).toBe(user.account.id);
    });
  }
});
