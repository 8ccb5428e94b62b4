/**
 * API-3 (first cut): malformed input gets a 4xx and never a 5xx or a stack trace. The full fuzz
 * test belongs to the abuse-resistance work; these are the inputs known to trip PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { REDIRECT_URI, registerApi, registerServiceClient, registerSpaClient } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let service: { clientId: string; secret: string };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  await registerSpaClient(server);
  service = await registerServiceClient(server);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

const form = (body: Record<string, string>, authorization?: string) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
  body: new URLSearchParams(body),
});

describe('NUL characters and other input PostgreSQL cannot store', () => {
  it.each([
    ['/auth?client_id=%00', undefined],
    [`/auth?client_id=spa&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&scope=openid&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=a%00b`, undefined],
    ['/token', form({ grant_type: 'refresh_token', refresh_token: 'a\u0000b', client_id: 'spa' })],
    ['/token', form({ grant_type: 'authorization_code', code: '\u0000', code_verifier: 'x'.repeat(43), redirect_uri: REDIRECT_URI, client_id: 'spa' })],
    ['/token', form({ grant_type: 'client_credentials', scope: 'a\u0000' }, basic('service', 'whatever'))],
    ['/token/introspection', form({ token: 'a\u0000b' }, basic('service', 'x'))],
    ['/token/revocation', form({ token: 'a\u0000b' }, basic('service', 'x'))],
  ] as const)('%s is answered with a 4xx', async (route, init) => {
    const response = await fetch(`${server.issuer}${route}`, { redirect: 'manual', ...(init ?? {}) });
    expect(response.status).toBeGreaterThanOrEqual(300);
    expect(response.status).toBeLessThan(500);
    expect(await response.text()).not.toMatch(/at .+\.(js|ts):\d+|SQL|syntax error/i);
  });

  it('treats a NUL in the login form as a failed login, not an error', async () => {
    const browser = new HttpBrowser();
    const start = await browser.follow(
      `${server.issuer}/auth?client_id=spa&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&scope=openid&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`,
      server.issuer,
    );
    const uid = start.url.pathname.split('/')[2];
    const response = await browser.request(`${server.issuer}/interaction/${uid}/login`, { form: { username: 'a\u0000', password: 'b\u0000c-long-enough' } });
    expect(response.status).toBe(401);
  });

  it('still serves after the bad requests', async () => {
    const response = await fetch(`${server.issuer}/token`, form({ grant_type: 'client_credentials', scope: 'things:read' }, basic(service.clientId, service.secret)));
    expect(response.status).toBe(200);
    expect(server.logs.join('')).not.toMatch(/"level":50/);
  });
});

describe('response_mode=form_post', () => {
  it("lets the page post to the client's redirect URI under the CSP", async () => {
    const response = await fetch(
      `${server.issuer}/auth?client_id=spa&response_type=code&response_mode=form_post&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&scope=openid&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&prompt=none&state=s`,
    );
    expect(response.status).toBe(400);
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(await response.text()).toContain(`action="${REDIRECT_URI}"`);
    expect(policy).toContain("form-action 'self' https://app.test.example");
    expect(policy).toMatch(/script-src 'self' 'sha256-/);
  });
});

describe('API-3 forms accept exactly their fields', () => {
  it('names an unknown login field and changes nothing', async () => {
    const browser = new HttpBrowser();
    const start = await browser.follow(
      `${server.issuer}/auth?client_id=spa&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&scope=openid&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`,
      server.issuer,
    );
    const uid = start.url.pathname.split('/')[2];
    const response = await browser.request(`${server.issuer}/interaction/${uid}/login`, { form: { username: 'a', password: 'b', is_admin: 'true' } });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('is_admin');
  });
});
