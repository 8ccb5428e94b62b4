/**
 * FLOW-6: the engine's error pages say what went wrong in plain words and what the person can
 * do — for a forged id_token_hint or an unregistered post_logout_redirect_uri at logout, an
 * unknown application or return address at sign-in — on both databases.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIRECT_URI, registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';
import { discoverClient, signInAndRedeem } from '../support/sign-in.js';
import { HttpBrowser } from '../support/browser-over-http.js';

/** The visible text of a page's main part. */
const visibleText = (html: string) => (/<main[^>]*>([\s\S]*)<\/main>/.exec(html)?.[1] ?? html).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();

describe.each<DatabaseChoice>(['postgres', 'embedded'])('FLOW-6 error pages (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;

  async function page(path: string, browser?: HttpBrowser) {
    const response = browser
      ? await browser.request(`${server.issuer}${path}`)
      : await fetch(`${server.issuer}${path}`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    return visibleText(await response.text());
  }

  async function forgedHint(audience: string) {
    return new SignJWT({ sub: 'someone' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(server.issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('an-attacker-chosen-key-of-32-bytes!'));
  }

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    await registerApi(server);
    await registerSpaClient(server);
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  it('explains a forged HS256 id_token_hint at logout, for an unknown and for a known audience', async () => {
    for (const audience of ['no-such-app', 'spa']) {
      const text = await page(`/session/end?id_token_hint=${await forgedHint(audience)}`);
      expect(text, audience).toContain('did not issue or cannot check');
      expect(text, audience).toContain('nothing to sign out of here');
      expect(text, audience).not.toContain('not known to Gatehouse');
    }
  });

  it('explains an unregistered post_logout_redirect_uri, and tells a signed-in person how to sign out', async () => {
    const anonymous = await page(`/session/end?client_id=spa&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`);
    expect(anonymous).toContain('send you back to an address it has not registered');
    expect(anonymous).toContain('did not sign you out');
    expect(anonymous).not.toContain('evil.example');

    const user = await registerUser(server, `dana-${kind}`);
    const { browser, tokens } = await signInAndRedeem(server, await discoverClient(server, 'spa'), user);
    const signedIn = await page(`/session/end?id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`, browser);
    expect(signedIn).toContain('You are still signed in to Gatehouse: use Sign out at the top of this page');
  });

  it('explains a sign-in form sent again after the step was done', async () => {
    const user = await registerUser(server, `twice-${kind}`);
    const browser = new HttpBrowser();
    const start = await browser.follow(`${server.issuer}/auth?client_id=spa&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`, server.issuer);
    const uid = start.url.pathname.split('/')[2];
    const credentials = { username: user.username, password: user.password };
    // Signed in: the browser is now on the consent step; the login form is sent again (a back button).
    const consent = await browser.follow(`${server.issuer}/interaction/${uid}/login`, server.issuer, { form: credentials });
    expect(await consent.page?.text()).toContain('/confirm"');
    const again = await browser.request(`${consent.url.href}/login`, { form: credentials });
    expect(again.status).toBe(400);
    const text = visibleText(await again.text());
    expect(text).toContain('This step of the sign-in is already done');
    expect(text).toContain('Go back to the application');
  });

  it('explains an unknown application and an unregistered return address at sign-in', async () => {
    const unknownClient = await page(`/auth?client_id=no-such-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`);
    expect(unknownClient).toContain('is not registered with Gatehouse');
    expect(unknownClient).toContain('Check that you followed the sign-in link');

    const badReturn = await page(`/auth?client_id=spa&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`);
    expect(badReturn).toContain('return address it has not registered');
    expect(badReturn).toContain('Go back to the application and try again');
  });
});
