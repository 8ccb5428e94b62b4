/**
 * API-5 and OPS-5 while PostgreSQL is down (issue 13 item 2 and "Logs"): token, introspection
 * and page requests get 503 with Retry-After (an OAuth `temporarily_unavailable` body, or a
 * friendly page), /readyz is 503, every log line stays JSON (knex's own warnings included, no
 * SQL parameters), and service resumes by itself when the database is back. The test owns a
 * private cluster, which it stops and starts; the shared server is never touched.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { API, REDIRECT_URI, registerApi, registerServiceClient, registerSpaClient } from '../support/fixtures.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';

let postgres: PrivatePostgres;
let server: TestServer;
let service: { clientId: string; secret: string };
const consoleLines: string[] = [];
const originalConsole = { log: console.log, warn: console.warn, error: console.error, info: console.info, debug: console.debug };

beforeAll(async () => {
  postgres = await startPrivatePostgres();
  server = await startTestServer({
    kind: 'postgres',
    env: { DATABASE_URL: postgres.url, GATEHOUSE_SECRET: randomBytes(32).toString('base64url'), LOG_LEVEL: 'debug' },
    dispose: async () => undefined,
  });
  await registerApi(server, { token_format: 'opaque' });
  await registerSpaClient(server);
  service = await registerServiceClient(server, 'service', 'things:read');
  // Anything a library prints by itself bypasses the JSON log: catch it.
  for (const method of ['log', 'warn', 'error', 'info', 'debug'] as const) {
    console[method] = (...args: unknown[]) => void consoleLines.push(args.map(String).join(' '));
  }
}, 120_000);

afterAll(async () => {
  Object.assign(console, originalConsole);
  await server?.stop().catch(() => undefined);
  postgres?.destroy();
});

const auth = () => `Basic ${Buffer.from(`${service.clientId}:${service.secret}`).toString('base64')}`;
const token = () =>
  fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth() },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read', resource: API }),
  });
const introspect = (value: string) =>
  fetch(`${server.issuer}/token/introspection`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth() },
    body: new URLSearchParams({ token: value }),
  });

describe('item 2: the database is unavailable', () => {
  it('answers 503 + Retry-After with temporarily_unavailable or a friendly page, then recovers by itself', { timeout: 90_000 }, async () => {
    const issued = await token();
    expect(issued.status).toBe(200);
    const { access_token: accessToken } = (await issued.json()) as { access_token: string };
    expect((await introspect(accessToken)).status).toBe(200);
    // A sign-in page opened before the outage.
    const browser = new HttpBrowser();
    const start = await browser.follow(
      `${server.issuer}/auth?client_id=spa&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`,
      server.issuer,
    );
    expect(start.url.pathname).toMatch(/^\/interaction\//);
    const logsBefore = server.logs.length;

    postgres.stop();
    for (const response of [await token(), await introspect(accessToken)]) {
      expect(response.status).toBe(503);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
    }
    // Pages: the engine's (authorization) and the host's (sign-in page).
    const engineRequest = await browser.request(
      `${server.issuer}/auth?client_id=spa&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${'b'.repeat(43)}&code_challenge_method=S256&state=t`,
    );
    const hostPage = await browser.request(start.url);
    for (const page of [engineRequest, hostPage]) {
      expect(page.status).toBe(503);
      expect(page.headers.get('retry-after')).not.toBeNull();
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toContain('Back in a moment');
    }
    expect((await fetch(`${server.issuer}/readyz`)).status).toBe(503);

    postgres.start();
    await expect.poll(async () => (await token()).status, { timeout: 30_000, interval: 250 }).toBe(200);
    expect((await introspect(accessToken)).status).toBe(200);
    expect((await fetch(`${server.issuer}/readyz`)).status).toBe(200);

    // Logs: the outage is told in JSON lines, including the database client's own warnings.
    const lines = server.logs.slice(logsBefore).join('').split('\n').filter(Boolean);
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.some((entry) => entry['event'] === 'database_unavailable')).toBe(true);
    // One line a second at most, whether the engine or the host refused (one shared reporter).
    const outageTimes = entries.filter((entry) => entry['event'] === 'database_unavailable').map((entry) => Date.parse(String(entry['time'])));
    for (let i = 1; i < outageTimes.length; i += 1) expect(outageTimes[i]! - outageTimes[i - 1]!).toBeGreaterThanOrEqual(1000);
    expect(entries.filter((entry) => entry['msg'] === 'provider server error')).toEqual([]);
    expect(consoleLines).toEqual([]);
  });
});

describe('Logs: knex speaks through the logger', () => {
  it("routes knex's warn, error, deprecate and debug hooks as JSON lines without bindings", async () => {
    const knex = server.gatehouse.services.db.knex;
    const before = server.logs.length;
    const log = (knex.client as { logger: { warn(m: unknown): void; error(m: unknown): void; deprecate(a: string, b: string): void; debug(m: unknown): void } }).logger;
    log.warn('Acquire connection error: Error: connect ECONNREFUSED\n    at TCPConnectWrap.afterConnect (node:net:1:1)');
    log.error(new Error('something failed'));
    log.deprecate('oldThing', 'newThing');
    log.debug({ method: 'select', sql: 'select * from "accounts" where "id" = ?', bindings: ['secret-binding-value'] });
    const entries = server.logs.slice(before).join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toHaveLength(4);
    expect(entries.every((entry) => entry['component'] === 'knex')).toBe(true);
    expect(entries[0]).toMatchObject({ level: 40, detail: 'Acquire connection error: Error: connect ECONNREFUSED' });
    expect(entries[2]).toMatchObject({ level: 40, detail: 'oldThing is deprecated, please use newThing' });
    expect(entries[3]).toMatchObject({ sql: 'select * from "accounts" where "id" = ?' });
    expect(JSON.stringify(entries)).not.toContain('secret-binding-value');
    expect(JSON.stringify(entries)).not.toContain('TCPConnectWrap');
    expect(consoleLines).toEqual([]);
  });
});
