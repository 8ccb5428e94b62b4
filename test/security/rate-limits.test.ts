/** API-1 rate limits and API-2 login throttling, on the shared stores. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { REDIRECT_URI, registerApi, registerServiceClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

const cleanup: (() => Promise<void>)[] = [];
// Servers and their databases end with each test: a file full of idle pools would crowd
// PostgreSQL's connection limit while another file runs beside it.
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function serve(env: Record<string, string>, storage?: TestStorage): Promise<{ server: TestServer; storage: TestStorage }> {
  const store = storage ?? (await createTestStorage('postgres'));
  const server = await startTestServer(store, env);
  cleanup.push(async () => {
    await server.stop();
    if (!storage) await store.dispose();
  });
  return { server, storage: store };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const tokenRequest = (server: TestServer, auth: string, ip?: string) =>
  fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, ...(ip ? { 'x-forwarded-for': ip } : {}) },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read' }),
  });

describe('API-1 rate limits', () => {
  it('answers 429 with Retry-After, RateLimit headers and an OAuth error body past the per-IP limit', async () => {
    const { server } = await serve({ RATE_LIMIT_IP_PER_MINUTE: '5' });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 6; i += 1) {
      last = await fetch(`${server.issuer}/.well-known/openid-configuration`);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last?.headers.get('ratelimit-policy')).toBe('"ip";q=5;w=60');
    expect(last?.headers.get('ratelimit')).toMatch(/^"ip";r=0;t=\d+$/);
    expect(await last?.json()).toMatchObject({ error: 'too_many_requests' });
    const page = await fetch(`${server.issuer}/account`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(429);
    expect(await page.text()).toContain('Try again in');
    expect((await fetch(`${server.issuer}/healthz`)).status).toBe(200);
    // Only the assets Gatehouse serves are left out, not every path under /assets/.
    expect((await fetch(`${server.issuer}/assets/gatehouse.css`)).status).toBe(200);
    expect((await fetch(`${server.issuer}/assets/nothing-here`)).status).toBe(429);
  });

  it('limits each client on the token endpoint, whatever address it calls from', async () => {
    const { server } = await serve({ RATE_LIMIT_CLIENT_PER_MINUTE: '3', TRUST_PROXY: 'true' });
    await registerApi(server);
    const noisy = await registerServiceClient(server, 'noisy', 'things:read');
    const quiet = await registerServiceClient(server, 'quiet', 'things:read');
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await tokenRequest(server, basic(noisy.clientId, noisy.secret), `198.51.100.${i}`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const variant = await fetch(`${server.issuer}/TOKEN/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(noisy.clientId, noisy.secret) },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read' }),
    });
    expect(variant.status).toBe(429);
    const limited = await tokenRequest(server, basic(noisy.clientId, noisy.secret));
    expect(await limited.json()).toMatchObject({ error: 'too_many_requests' });
    expect((await tokenRequest(server, basic(quiet.clientId, quiet.secret))).status).toBe(200);
  });

  it('counts once across two replicas on one PostgreSQL (exact mode: every request through the store)', async () => {
    const { server: first, storage } = await serve({ RATE_LIMIT_IP_PER_MINUTE: '6', RATE_LIMIT_SYNC_MS: '0' });
    const { server: second } = await serve({ RATE_LIMIT_IP_PER_MINUTE: '6', RATE_LIMIT_SYNC_MS: '0' }, storage);
    const statuses = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await fetch(`${(i % 2 ? second : first).issuer}/jwks`)).status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(6);
    expect(statuses.slice(6)).toEqual([429, 429]);
  });

  it('counts across replicas in the default batched mode once counts are shared (within the sync interval)', async () => {
    const { server: first, storage } = await serve({ RATE_LIMIT_IP_PER_MINUTE: '6', RATE_LIMIT_SYNC_MS: '50' });
    const { server: second } = await serve({ RATE_LIMIT_IP_PER_MINUTE: '6', RATE_LIMIT_SYNC_MS: '50' }, storage);
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${first.issuer}/jwks`)).status).toBe(200);
    await settle();
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${second.issuer}/jwks`)).status).toBe(200);
    await settle();
    // The second replica shared its three and learned of the first's: the seventh is refused.
    expect((await fetch(`${second.issuer}/jwks`)).status).toBe(429);
    // The first learns the total at its next sync: one more request may pass, then none.
    await fetch(`${first.issuer}/jwks`);
    await settle();
    expect((await fetch(`${first.issuer}/jwks`)).status).toBe(429);
  });

  it('shares counters through Redis when REDIS_URL is set', async () => {
    const redis = new Redis('redis://127.0.0.1:6379');
    const address = `203.0.113.${Math.floor(Math.random() * 200) + 1}`;
    await redis.del(`gh:ip:${address}`);
    await redis.quit();
    const env = { RATE_LIMIT_IP_PER_MINUTE: '4', REDIS_URL: 'redis://127.0.0.1:6379', TRUST_PROXY: 'true', RATE_LIMIT_SYNC_MS: '0' };
    const { server: first, storage } = await serve(env);
    const { server: second } = await serve(env, storage);
    expect(first.gatehouse.services.rateLimits.storeName).toBe('redis');
    const statuses = [];
    for (let i = 0; i < 6; i += 1) {
      statuses.push((await fetch(`${(i % 2 ? second : first).issuer}/jwks`, { headers: { 'x-forwarded-for': address } })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });
});

describe('API-2 brute force and credential stuffing on the login form', () => {
  async function loginPage(server: TestServer) {
    const browser = new HttpBrowser();
    const url = `${server.issuer}/auth?client_id=spa&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`;
    const start = await browser.follow(url, server.issuer);
    const uid = start.url.pathname.split('/')[2];
    return (username: string, password: string) => browser.request(`${server.issuer}/interaction/${uid}/login`, { form: { username, password } });
  }

  it('slows repeated failures for one account with growing waits, the same for unknown names, and never forever', async () => {
    const { server } = await serve({ LOGIN_FREE_FAILURES_PER_ACCOUNT_IP: '3', LOGIN_MAX_DELAY: '2' });
    await registerApi(server);
    await registerSpaClient(server);
    const user = await registerUser(server, 'frank');
    const attempt = await loginPage(server);
    const outcomes = [];
    for (let i = 0; i < 4; i += 1) outcomes.push((await attempt('frank', `wrong-${i}-password`)).status);
    expect(outcomes).toEqual([401, 401, 401, 401]);
    const throttled = await attempt('frank', user.password);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    const message = await throttled.text();
    expect(message).toMatch(/Try again in \d+ seconds/);

    for (let i = 0; i < 4; i += 1) await attempt('nobody-here', `wrong-${i}-password`);
    const unknown = await attempt('nobody-here', 'whatever-password');
    expect(unknown.status).toBe(429);
    const strip = (html: string) => html.replace(/value="[^"]*"/g, '').replace(/\d+ seconds/g, 'N seconds');
    expect(strip(await unknown.text())).toBe(strip(message));

    // The wait is capped: the real user gets in once it has passed.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect((await attempt('frank', user.password)).status).toBe(303);

    const events = server.logs.join('').split('\n').filter((line) => line.includes('"login_failed"'));
    expect(events.length).toBeGreaterThanOrEqual(8);
    for (const event of events) expect(event).not.toMatch(/wrong-\d-password|password"/);
  });

  it('counts attempts sent in parallel: a burst cannot all slip through the free allowance', async () => {
    const { server } = await serve({ LOGIN_FREE_FAILURES_PER_ACCOUNT_IP: '3', LOGIN_MAX_DELAY: '60' });
    await registerApi(server);
    await registerSpaClient(server);
    await registerUser(server, 'kim');
    const attempt = await loginPage(server);
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => attempt('kim', `parallel-guess-${i}`).then((r) => r.status)));
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(4);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(8);
  });

  it('throttles one address trying many accounts (credential stuffing)', async () => {
    const { server } = await serve({ LOGIN_FREE_FAILURES_PER_IP: '5', LOGIN_FREE_FAILURES_PER_ACCOUNT_IP: '50' });
    await registerApi(server);
    await registerSpaClient(server);
    const attempt = await loginPage(server);
    const statuses = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await attempt(`user-${randomBytes(3).toString('hex')}`, 'guess-password-1')).status);
    expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
    expect(statuses[6]).toBe(429);
  });
});
