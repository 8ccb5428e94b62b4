/** NET-2 and NET-3 on every kind of response: pages, engine pages, JSON, errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { REDIRECT_URI, registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let publicOrigin: string;
let browser: HttpBrowser;
const responses = new Map<string, Response>();

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  const port = await freePort();
  publicOrigin = `https://127.0.0.1:${port}`;
  server = await startTestServer(storage, { PORT: String(port), ISSUER: publicOrigin, TRUST_PROXY: 'true' });
  await registerApi(server);
  await registerSpaClient(server);
  const user = await registerUser(server);
  browser = new HttpBrowser({ proxy: { publicOrigin, listener: `http://127.0.0.1:${port}` } });
  const authorize = `${publicOrigin}/auth?client_id=spa&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`;

  const login = await browser.follow(authorize, publicOrigin);
  responses.set('login page', login.page as Response);
  const uid = login.url.pathname.split('/')[2];
  const consent = await browser.follow(`${publicOrigin}/interaction/${uid}/login`, publicOrigin, { form: { username: user.username, password: user.password } });
  responses.set('consent page', consent.page as Response);
  responses.set('failed login page', await browser.request(`${publicOrigin}/interaction/${uid}/login`, { form: { username: 'x', password: 'y' } }));
  responses.set('account page', await browser.request(`${publicOrigin}/account`));
  responses.set('password page', await browser.request(`${publicOrigin}/account/password`));
  responses.set('logout page', (await browser.follow(`${publicOrigin}/session/end`, publicOrigin)).page as Response);
  responses.set('engine error page', await browser.request(`${publicOrigin}/auth?client_id=spa&redirect_uri=https://evil.example/`));
  responses.set('host error page', await browser.request(`${publicOrigin}/interaction/unknown`));
  responses.set('discovery', await browser.request(`${publicOrigin}/.well-known/openid-configuration`));
  responses.set('jwks', await browser.request(`${publicOrigin}/jwks`));
  responses.set('token error', await browser.request(`${publicOrigin}/token`, { form: { grant_type: 'client_credentials' } }));
  responses.set('not found', await browser.request(`${publicOrigin}/no-such-page`));
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

describe('security headers on every response type', () => {
  it('covers every kind of page', () => {
    expect([...responses.keys()]).toHaveLength(12);
    for (const [name, response] of responses) expect(response, name).toBeDefined();
  });

  it('NET-3 strict CSP without inline script or style, no framing, nosniff, a referrer policy, no X-Powered-By', () => {
    for (const [name, response] of responses) {
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, name).toContain("frame-ancestors 'none'");
      expect(csp, name).toContain("script-src 'self'");
      expect(csp, name).toContain("style-src 'self'");
      expect(csp, name).not.toContain('unsafe-inline');
      expect(csp, name).not.toContain('unsafe-eval');
      expect(response.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(response.headers.get('referrer-policy'), name).toBe('same-origin');
      expect(response.headers.get('x-frame-options'), name).toBe('DENY');
      expect(response.headers.get('x-powered-by'), name).toBeNull();
    }
  });

  it('NET-2 HSTS on every response over https (through the trusted proxy)', () => {
    for (const [name, response] of responses) {
      expect(response.headers.get('strict-transport-security'), name).toBe('max-age=31536000; includeSubDomains');
    }
  });

  it('keeps pages that end in a redirect to the client able to post there, and nothing else', () => {
    const login = responses.get('login page')?.headers.get('content-security-policy') ?? '';
    expect(login).toContain("form-action 'self' https://app.test.example");
    const account = responses.get('account page')?.headers.get('content-security-policy') ?? '';
    expect(account).toMatch(/form-action 'self'(;|$)/);
  });
});
