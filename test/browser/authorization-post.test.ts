/**
 * FLOW-10 / OIDC Core 3.1.2.1: POST at the authorization endpoint, proved in real Chromium. A
 * relying party on another site auto-submits a form; the browser reaches the login page, and
 * with a session, comes straight back with a code — while the session cookie stays SameSite=Lax.
 * On PostgreSQL and on the embedded database (FLOW-6: every item holds on both).
 */
import * as oidc from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIRECT_URI, registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { launchChromium } from '../support/chromium.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';

const RP_PAGE = 'http://rp.test.example/start';

let browser: Browser;

// One Chromium for both databases: launching it is the slow part.
beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

async function authorizationParams(state: string) {
  const verifier = oidc.randomPKCECodeVerifier();
  return {
    verifier,
    params: {
      client_id: 'spa',
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    },
  };
}

/** A relying party on another site whose page posts the authorization request by itself. */
async function crossSitePost(context: BrowserContext, issuer: string, params: Record<string, string>): Promise<void> {
  // The client's redirect URI is not a real site: answer it in the browser.
  await context.route('https://app.test.example/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<p>client</p>' }));
  const fields = Object.entries(params)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${value.replace(/"/g, '&quot;')}">`)
    .join('');
  await context.route(RP_PAGE, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: `<!doctype html><form id="f" method="post" action="${issuer}/auth">${fields}</form><script>document.getElementById('f').submit()</script>`,
    }),
  );
}

describe.each<DatabaseChoice>(['postgres', 'embedded'])('on %s', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  let user: Awaited<ReturnType<typeof registerUser>>;
  let spa: oidc.Configuration;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    await registerApi(server);
    await registerSpaClient(server);
    user = await registerUser(server, 'poster');
    spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  describe('FLOW-10 POST at the authorization endpoint in Chromium', () => {
    it('takes a cross-site auto-submitted form to the login page', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const { params } = await authorizationParams('post-no-session');
      await crossSitePost(context, server.issuer, params);
      await page.goto(RP_PAGE);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
      await context.close();
    });

    it('with a session, returns the code to the client, and the session cookie stays SameSite=Lax', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      // First sign-in, by GET, to have a session and a grant.
      const first = await authorizationParams('get-first');
      await crossSitePost(context, server.issuer, {});
      await page.goto(oidc.buildAuthorizationUrl(spa, first.params).href);
      await page.getByLabel('Username').fill(user.username);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(/app\.test\.example/);
      const session = (await context.cookies(server.issuer)).find((cookie) => cookie.name.endsWith('.session') || cookie.name === '_session');
      expect(session?.sameSite).toBe('Lax');

      const second = await authorizationParams('post-with-session');
      await context.unroute(RP_PAGE);
      await crossSitePost(context, server.issuer, second.params);
      await page.goto(RP_PAGE);
      await page.waitForURL(/app\.test\.example\/callback\?.*post-with-session/);
      const returned = new URL(page.url());
      expect(returned.searchParams.get('state')).toBe('post-with-session');
      const tokens = await oidc.authorizationCodeGrant(spa, returned, { pkceCodeVerifier: second.verifier, expectedState: 'post-with-session' });
      expect(tokens.claims()?.sub).toBe(user.account.id);
      await context.close();
    });
  });

  describe('FLOW-10 POST at the front-channel endpoints over HTTP', () => {
    it('answers a form POST with a 303 to the same request as GET, and refuses other bodies', async () => {
      const { params } = await authorizationParams('s');
      const posted = await fetch(`${server.issuer}/auth`, { method: 'POST', body: new URLSearchParams(params), redirect: 'manual' });
      expect(posted.status).toBe(303);
      const location = new URL(posted.headers.get('location') ?? '', server.issuer);
      expect(location.pathname).toBe('/auth');
      expect(Object.fromEntries(location.searchParams)).toEqual(params);

      const logout = await fetch(`${server.issuer}/session/end`, { method: 'POST', body: new URLSearchParams({ client_id: 'spa' }), redirect: 'manual' });
      expect(logout.status).toBe(303);
      expect(logout.headers.get('location')).toBe('/session/end?client_id=spa');

      const json = await fetch(`${server.issuer}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params), redirect: 'manual' });
      expect(json.status).toBe(415);
      const huge = await fetch(`${server.issuer}/auth`, { method: 'POST', body: new URLSearchParams({ ...params, login_hint: 'x'.repeat(100_000) }), redirect: 'manual' });
      expect(huge.status).toBe(413);
      // Under the body limit but too long to travel on as a URL (Node's 16 KiB header limit): 413, not a bare 431 later.
      const long = await fetch(`${server.issuer}/auth`, { method: 'POST', body: new URLSearchParams({ ...params, login_hint: 'x'.repeat(20_000) }), redirect: 'manual' });
      expect(long.status).toBe(413);
    });
  });
});
