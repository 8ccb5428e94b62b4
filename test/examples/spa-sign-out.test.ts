/**
 * SPA-1 the BFF's sign-out, seen from Gatehouse. test/examples/spa.test.ts signs out in a browser,
 * where the end-session step that follows revokes the grant anyway; here DELETE /bff/session
 * alone must leave the refresh token inactive at Gatehouse's introspection, and a DELETE that did
 * not come from the BFF's own page must leave it active. The test holds the cookie secret, so it
 * opens the sealed refresh cookie to learn the token the BFF holds; it signs in over plain HTTP.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBff, type RunningBff } from '../../examples/spa/bff/app.js';
import { CookieSealer, REFRESH_COOKIE } from '../../examples/spa/bff/sealed-cookies.js';
import { registerResourceServers } from '../../src/apis/register.js';
import { HttpBrowser } from '../support/browser-over-http.js';
import { registerClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

const exampleFile = (name: string) => JSON.parse(readFileSync(new URL(`../../examples/spa/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>[];
const [clientFile] = exampleFile('client.json') as [{ client_id: string; scope: string }];
const [apiFile] = exampleFile('api.json') as [{ identifier: string }];
const clientSecret = 'sign-out-test-secret-'.padEnd(48, 'x');
const cookieSecret = 'sign-out-test-cookie-secret-'.padEnd(48, 'y');
const sealer = new CookieSealer(cookieSecret);

let storage: TestStorage;
let server: TestServer;
let bff: RunningBff;
let user: Awaited<ReturnType<typeof registerUser>>;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerResourceServers(exampleFile('api.json'), server.gatehouse.services.resourceServers);
  await server.gatehouse.live.refresh();
  const bffOrigin = `http://localhost:${await freePort()}`;
  // The example's client as registered (no offline_access), on the test's BFF origin.
  await registerClient(server, {
    ...(exampleFile('client.json')[0] as object),
    client_id: clientFile.client_id,
    client_secret: clientSecret,
    redirect_uris: [`${bffOrigin}/bff/callback`],
    post_logout_redirect_uris: [`${bffOrigin}/`],
  });
  user = await registerUser(server, 'bff-user');
  bff = await startBff({
    port: Number(new URL(bffOrigin).port),
    host: 'localhost',
    issuer: server.issuer,
    clientId: clientFile.client_id,
    clientSecret,
    cookieSecret,
    publicOrigin: bffOrigin,
    apiUrl: 'http://localhost:9/api/hello',
    resource: apiFile.identifier,
    scope: clientFile.scope,
  });
}, 60_000);

afterAll(async () => {
  await bff?.close();
  await server?.stop();
  await storage?.dispose();
});

interface Answer {
  readonly status: number;
  readonly setCookies: string[];
  readonly body: string;
}

/** To the BFF, with exactly the headers given (fetch would add its own Sec-Fetch-* headers). */
function toBff(method: string, path: string, headers: Record<string, string>): Promise<Answer & { location?: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${bff.url}${path}`, { method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          setCookies: response.headers['set-cookie'] ?? [],
          body: Buffer.concat(chunks).toString('utf8'),
          ...(response.headers.location ? { location: response.headers.location } : {}),
        }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

const cookieValue = (answer: Answer, name: string) =>
  answer.setCookies.map((header) => new RegExp(`^${name}=([^;]*)`).exec(header)?.[1]).find((value) => value !== undefined);

/** The BFF's sign-in, start to end: returns the sealed refresh cookie the browser would hold. */
async function signIn(): Promise<string> {
  const start = await toBff('GET', '/bff/login', {});
  const login = cookieValue(start, 'bff_login');
  expect(start.location && login).toBeTruthy();
  const callback = await new HttpBrowser().authorize(new URL(start.location ?? ''), server.issuer, user);
  const back = await toBff('GET', callback.pathname + callback.search, { cookie: `bff_login=${login}` });
  expect(back).toMatchObject({ status: 303, location: '/' });
  const refresh = cookieValue(back, 'bff_refresh');
  expect(refresh).toBeTruthy();
  return refresh ?? '';
}

/** The refresh token inside the sealed cookie. */
async function refreshTokenIn(cookie: string): Promise<string> {
  const contents = await sealer.open<{ rt: string }>(REFRESH_COOKIE, cookie);
  expect(contents?.rt).toBeTruthy();
  return contents?.rt ?? '';
}

/** Gatehouse's own answer about a refresh token, asked as the BFF's client (RFC 7662). */
async function active(refreshToken: string): Promise<boolean> {
  const response = await fetch(`${server.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientFile.client_id}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { active: boolean }).active;
}

const ownPage = () => ({ origin: bff.url, 'x-bff': '1' });

describe('SPA-1 the BFF signs out at Gatehouse', () => {
  it('refuses a DELETE that did not come from its own page, and the session stays', async () => {
    const cookie = await signIn();
    const refreshToken = await refreshTokenIn(cookie);
    expect(await active(refreshToken)).toBe(true);
    const withCookie = { cookie: `bff_refresh=${cookie}` };
    const attempts = [
      { ...withCookie, ...ownPage(), origin: 'https://evil.example' },
      { ...withCookie, 'x-bff': '1' },
      { ...withCookie, origin: bff.url },
      { ...withCookie, ...ownPage(), 'sec-fetch-site': 'cross-site' },
      { ...withCookie, ...ownPage(), 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of attempts) {
      const answer = await toBff('DELETE', '/bff/session', headers);
      expect(answer.status).toBe(403);
      // Neither a logout URL nor a cleared cookie.
      expect(answer.body).not.toContain('logout_url');
      expect(answer.setCookies).toEqual([]);
    }
    expect(await active(refreshToken)).toBe(true);
    // And the BFF still serves this session.
    expect((await toBff('POST', '/bff/session', { ...withCookie, ...ownPage() })).status).toBe(200);
  });

  it('revokes the refresh token at Gatehouse on DELETE /bff/session, before any end-session step', async () => {
    const cookie = await signIn();
    const refreshToken = await refreshTokenIn(cookie);
    expect(await active(refreshToken)).toBe(true);
    const signOut = await toBff('DELETE', '/bff/session', { cookie: `bff_refresh=${cookie}`, ...ownPage() });
    expect(signOut.status).toBe(200);
    expect(signOut.setCookies).toEqual([expect.stringMatching(/^bff_refresh=; Max-Age=0;/)]);
    // The logout URL is only handed back: nothing here follows it, so only the revocation can
    // have ended the token.
    const logout = new URL((JSON.parse(signOut.body) as { logout_url: string }).logout_url);
    expect(logout.origin).toBe(server.issuer);
    expect(await active(refreshToken)).toBe(false);
  });

  it('after signing out, a tab still holding the cookie from before the last rotation gets nothing', async () => {
    const stale = await signIn();
    const first = await refreshTokenIn(stale);
    // Another tab refreshed: the BFF rotated the token and remembers that rotation for a while.
    const refreshed = await toBff('POST', '/bff/session', { cookie: `bff_refresh=${stale}`, ...ownPage() });
    expect(refreshed.status).toBe(200);
    const newest = await refreshTokenIn(cookieValue(refreshed, 'bff_refresh') ?? '');
    expect(newest).not.toBe(first);
    expect(await active(newest)).toBe(true);

    // Sign-out from the tab with the stale cookie: the newest token dies with it (revoking the
    // consumed one revokes the grant at Gatehouse; the BFF also revokes the newest it knows).
    expect((await toBff('DELETE', '/bff/session', { cookie: `bff_refresh=${stale}`, ...ownPage() })).status).toBe(200);
    expect(await active(newest)).toBe(false);
    // The rotation the BFF remembered is not handed out again: the stale cookie now goes to
    // Gatehouse, which refuses it.
    const replayed = await toBff('POST', '/bff/session', { cookie: `bff_refresh=${stale}`, ...ownPage() });
    expect(replayed.status).toBe(401);
    expect(replayed.body).not.toContain('access_token');
  });
});
