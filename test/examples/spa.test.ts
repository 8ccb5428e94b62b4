/**
 * SPA-1 the browser pattern, end to end in real Chromium: Gatehouse, the example's BFF (https,
 * with a certificate made for the test) serving the SPA, and the demo API. The access token
 * lives only in the page's memory, the refresh token only in the BFF's HttpOnly cookie; reloads,
 * short token lifetimes and two tabs keep the user signed in; sign-out ends everything; other
 * sites get nothing.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApi, type RunningDemoApi } from '../../examples/spa/api/server.js';
import { startBff, type RunningBff } from '../../examples/spa/bff/app.js';
import { registerResourceServers } from '../../src/apis/register.js';
import { launchChromium } from '../support/chromium.js';
import { API, registerApi, registerClient, registerServiceClient, registerUser } from '../support/fixtures.js';
import { selfSignedCertificate } from '../support/self-signed.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

const exampleFile = (name: string) => JSON.parse(readFileSync(new URL(`../../examples/spa/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>[];
const [clientFile] = exampleFile('client.json') as [{ client_id: string; scope: string }];
const [apiFile] = exampleFile('api.json') as [{ identifier: string; scopes: string[] }];
const TOKEN_TTL = 20;

let storage: TestStorage;
let server: TestServer;
let api: RunningDemoApi;
let bff: RunningBff;
let browser: Browser;
let context: BrowserContext;
let user: Awaited<ReturnType<typeof registerUser>>;
let attacker: http.Server;
let attackerOrigin: string;
const cspViolations: string[] = [];

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  // The example's files register as they are; the test then narrows the token lifetime and
  // points the redirect URIs at its own BFF port.
  await registerResourceServers(exampleFile('api.json'), server.gatehouse.services.resourceServers);
  await registerApi(server, { identifier: apiFile.identifier, name: 'SPA example demo API', scopes: apiFile.scopes, access_token_ttl: TOKEN_TTL });
  const bffPort = await freePort();
  const bffOrigin = `https://localhost:${bffPort}`;
  const clientSecret = 'test-secret-'.padEnd(48, 'x');
  await registerClient(server, exampleFile('client.json')[0] as never);
  await registerClient(server, {
    ...(exampleFile('client.json')[0] as object),
    client_id: clientFile.client_id,
    client_secret: clientSecret,
    redirect_uris: [`${bffOrigin}/bff/callback`],
    post_logout_redirect_uris: [`${bffOrigin}/`],
  });
  user = await registerUser(server, 'spa-user');
  const certificate = selfSignedCertificate('localhost');
  api = await startDemoApi({ port: 0, host: 'localhost', issuer: server.issuer, audience: apiFile.identifier, allowedOrigins: [bffOrigin], tls: certificate, clockTolerance: 1 });
  bff = await startBff({
    port: bffPort,
    host: 'localhost',
    tls: certificate,
    issuer: server.issuer,
    clientId: clientFile.client_id,
    clientSecret,
    cookieSecret: 'cookie-secret-for-the-test-only-'.padEnd(48, 'y'),
    publicOrigin: bffOrigin,
    apiUrl: `${api.url}/api/hello`,
    resource: apiFile.identifier,
    scope: clientFile.scope,
  });
  // Another site (127.0.0.1 is not localhost) whose page tries to get a token from the BFF.
  attacker = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Another site</h1>'));
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  browser = await launchChromium();
  context = await browser.newContext({ ignoreHTTPSErrors: true });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await bff?.close();
  await api?.close();
  await new Promise((resolve) => attacker?.close(resolve));
  await server?.stop();
  await storage?.dispose();
});

async function openSpa(): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  await page.goto(bff.url);
  return page;
}

const signedIn = (page: Page) => page.getByText(`Signed in as Alice Example (${user.account.id}).`).waitFor();

async function callApi(page: Page): Promise<{ sub: string; token_expires_at: number }> {
  await page.getByRole('button', { name: 'Call the API' }).click();
  const status = page.getByRole('status');
  await expect.poll(() => status.textContent(), { timeout: 10_000 }).toContain('"sub"');
  return JSON.parse((await status.textContent()) ?? '{}') as { sub: string; token_expires_at: number };
}

/** A request to the BFF from outside the browser, as a script on another machine could send it. */
function bffRequest(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return httpsRequest(method, `${bff.url}${path}`, headers);
}

/** Over https to the test's own self-signed certificate. */
function httpsRequest(method: string, url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = https.request(url, { method, headers, rejectUnauthorized: false }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    request.on('error', reject);
    request.end();
  });
}

async function refreshCookie() {
  const cookies = await context.cookies(`${bff.url}/bff/session`);
  return cookies.find((cookie) => cookie.name === 'bff_refresh');
}

let mainPage: Page;
let untouchedPage: Page;
let firstExpiry: number;
const untouchedTokenRequests: number[] = [];
const untouchedApiStatuses: number[] = [];
/** What the BFF handed that tab, seen on the wire (the page itself keeps them in a closure). */
const untouchedAccessTokens: string[] = [];

describe('SPA-1 the browser pattern in real Chromium', () => {
  it('signs in through Gatehouse and shows the API answer with the token subject', async () => {
    mainPage = await openSpa();
    await mainPage.getByRole('button', { name: 'Sign in' }).click();
    await mainPage.getByLabel('Username').fill(user.username);
    await mainPage.getByLabel('Password').fill(user.password);
    await mainPage.getByRole('button', { name: 'Sign in' }).click();
    await mainPage.getByRole('button', { name: 'Allow' }).click();
    await signedIn(mainPage);
    expect((await callApi(mainPage)).sub).toBe(user.account.id);
  });

  it('keeps no token where a script could find it later', async () => {
    // A string, not a function: the test's TypeScript has no DOM types.
    const stored = await mainPage.evaluate<{ local: number; session: number; cookie: string; databases: number }>(
      `(async () => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie, databases: (await indexedDB.databases()).length }))()`,
    );
    expect(stored).toEqual({ local: 0, session: 0, cookie: '', databases: 0 });
  });

  it('keeps the refresh token in an HttpOnly, Secure, SameSite=Strict cookie sent to one path only', async () => {
    const cookie = await refreshCookie();
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/bff/session' });
    const elsewhere = await context.cookies(`${bff.url}/`);
    expect(elsewhere.map((c) => c.name)).not.toContain('bff_refresh');
    // Sealed: the cookie does not carry the token in a readable form.
    expect(cookie?.value.split('.')).toHaveLength(5);
  });

  it('stays signed in across a reload through silent refresh', async () => {
    // A tab left alone from now on: its token must be replaced before it expires (checked below).
    untouchedPage = await context.newPage();
    untouchedPage.on('request', (request) => {
      if (request.url().endsWith('/bff/session') && request.method() === 'POST') untouchedTokenRequests.push(Date.now());
    });
    untouchedPage.on('response', async (response) => {
      if (response.url().startsWith(api.url)) untouchedApiStatuses.push(response.status());
      if (response.url().endsWith('/bff/session') && response.status() === 200) {
        untouchedAccessTokens.push(((await response.json()) as { access_token: string }).access_token);
      }
    });
    await untouchedPage.goto(bff.url);
    await signedIn(untouchedPage);
    firstExpiry = (await callApi(untouchedPage)).token_expires_at;

    await mainPage.reload();
    await signedIn(mainPage);
    expect((await callApi(mainPage)).sub).toBe(user.account.id);
  });

  it('keeps two tabs signed in when they refresh at the same moment', async () => {
    const second = await openSpa();
    await signedIn(second);
    const refreshAt = (page: Page) =>
      page.evaluate(async () => (await fetch('/bff/session', { method: 'POST', headers: { 'X-BFF': '1' } })).status);
    for (let round = 0; round < 3; round += 1) {
      expect(await Promise.all([refreshAt(mainPage), refreshAt(second), refreshAt(mainPage), refreshAt(second)])).toEqual([200, 200, 200, 200]);
    }
    await Promise.all([mainPage.reload(), second.reload()]);
    await Promise.all([signedIn(mainPage), signedIn(second)]);
    expect((await callApi(second)).sub).toBe(user.account.id);
    expect(server.logs.join('')).not.toMatch(/reuse/i);
    await second.close();
  });

  it('gives no token to another site, in the browser or outside it', async () => {
    const page = await context.newPage();
    const bffStatuses: number[] = [];
    page.on('response', (response) => {
      if (response.url().startsWith(bff.url)) bffStatuses.push(response.status());
    });
    await page.goto(attackerOrigin);
    const outcome = await page.evaluate(async (target) => {
      const results: string[] = [];
      try {
        const response = await fetch(`${target}/bff/session`, { method: 'POST', credentials: 'include', headers: { 'X-BFF': '1' } });
        results.push(`read ${response.status}`);
      } catch {
        results.push('blocked');
      }
      const opaque = await fetch(`${target}/bff/session`, { method: 'POST', credentials: 'include', mode: 'no-cors' });
      results.push(opaque.type);
      return results;
    }, bff.url);
    expect(outcome).toEqual(['blocked', 'opaque']);
    // The simple request reached the BFF and was refused; the preflighted one never got past OPTIONS.
    expect(bffStatuses.filter((status) => status === 200)).toEqual([]);
    await page.close();

    const cookie = await refreshCookie();
    const withCookie = { cookie: `bff_refresh=${cookie?.value}`, 'x-bff': '1' };
    expect((await bffRequest('POST', '/bff/session', { ...withCookie, origin: 'https://evil.example' })).status).toBe(403);
    expect((await bffRequest('POST', '/bff/session', { ...withCookie, origin: bff.url, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await bffRequest('POST', '/bff/session', { cookie: withCookie.cookie, origin: bff.url })).status).toBe(403);
    // A cookie edited by hand is worth nothing (and is cleared).
    const edited = `${cookie?.value.slice(0, -3)}${cookie?.value.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    const forged = await bffRequest('POST', '/bff/session', { cookie: `bff_refresh=${edited}`, origin: bff.url, 'x-bff': '1' });
    expect(forged.status).toBe(401);
    expect(forged.headers['set-cookie']).toEqual([expect.stringMatching(/^bff_refresh=; Max-Age=0; Path=\/bff\/session;/)]);
    // Login CSRF: a callback with someone else's code, without this browser's login cookie, signs nobody in.
    const planted = await bffRequest('GET', '/bff/callback?code=attacker-code&state=attacker-state', {});
    expect(planted.status).toBe(303);
    expect(planted.headers.location).toBe('/?signin=expired');
    expect(planted.headers['set-cookie']?.filter((header) => header.startsWith('bff_refresh='))).toEqual([]);
    const preflight = await bffRequest('OPTIONS', '/bff/session', { origin: attackerOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-bff' });
    expect(Object.keys(preflight.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
  });

  it(`replaces a ${TOKEN_TTL}-second access token before a call could fail`, async () => {
    // Past the expiry and the API's clock tolerance (1 s here): the first token is refused by now.
    const wait = firstExpiry * 1000 + 2500 - Date.now();
    if (wait > 0) await untouchedPage.waitForTimeout(wait);
    const answer = await callApi(untouchedPage);
    expect(answer.sub).toBe(user.account.id);
    expect(answer.token_expires_at).toBeGreaterThan(firstExpiry);
    // The page load's request, then one made by the timer before the first token expired.
    expect(untouchedTokenRequests.length).toBeGreaterThanOrEqual(2);
    expect(untouchedTokenRequests[1]).toBeLessThan(firstExpiry * 1000);
    expect(untouchedApiStatuses).toEqual([200, 200]);
  }, 60_000);

  it('the demo API refuses Gatehouse tokens that expired, were edited, re-signed or are for another API', async () => {
    const hello = `${api.url}/api/hello`;
    const call = async (token: string) => {
      const response = await httpsRequest('GET', hello, { authorization: `Bearer ${token}` });
      return { status: response.status, challenge: String(response.headers['www-authenticate'] ?? '') };
    };
    const [expired, current] = [untouchedAccessTokens[0] ?? '', untouchedAccessTokens.at(-1) ?? ''];
    expect((await call(current)).status).toBe(200);
    const refused = async (token: string, description: string) => {
      const answer = await call(token);
      expect(answer.status).toBe(401);
      expect(answer.challenge).toContain('error="invalid_token"');
      expect(answer.challenge).toContain(`error_description="${description}"`);
    };
    await refused(expired, 'the access token expired');
    const [header, payload, signature] = current.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const edited = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
    await refused(`${header}.${edited}.${signature}`, 'the access token is not valid');
    await refused(`${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`, 'the access token is not valid');
    const { keys } = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: (Record<string, unknown> & { kid: string })[] };
    const published = keys.find((key) => key.kid === JSON.parse(Buffer.from(header, 'base64url').toString()).kid) ?? keys[0];
    const hmacHeader = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: published?.kid })).toString('base64url');
    const hmac = createHmac('sha256', JSON.stringify(published)).update(`${hmacHeader}.${payload}`).digest('base64url');
    await refused(`${hmacHeader}.${payload}.${hmac}`, 'the access token is not valid');
    // A genuine Gatehouse token, for another API.
    await registerApi(server);
    const service = await registerServiceClient(server, 'other-service', 'things:read');
    const otherApi = (await (
      await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${service.clientId}:${service.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read', resource: API }),
      })
    ).json()) as { access_token: string };
    await refused(otherApi.access_token, 'the access token is not meant for this API');
  });

  it('signs out: the refresh cookie becomes worthless and the Gatehouse session ends', async () => {
    const before = await refreshCookie();
    await mainPage.getByRole('button', { name: 'Sign out' }).click();
    await mainPage.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await mainPage.getByRole('button', { name: 'Sign out' }).click();
    await mainPage.getByText('You are signed out.').waitFor();
    expect(mainPage.url()).toBe(`${bff.url}/`);
    expect(await refreshCookie()).toBeUndefined();

    const replayed = await bffRequest('POST', '/bff/session', { cookie: `bff_refresh=${before?.value}`, origin: bff.url, 'x-bff': '1' });
    expect(replayed.status).toBe(401);

    // With the Gatehouse session alive, signing in again would come straight back (consent was given).
    await mainPage.getByRole('button', { name: 'Sign in' }).click();
    await mainPage.getByLabel('Username').waitFor();
    expect(new URL(mainPage.url()).origin).toBe(server.issuer);
  });

  it('runs under its CSP without a single violation', () => {
    expect(cspViolations).toEqual([]);
  });
});
