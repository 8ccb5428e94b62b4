/**
 * OPS-5 health, readiness and metrics; OPS-6 graceful shutdown of a real process under load.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { registerApi, registerServiceClient } from '../support/fixtures.js';
import { createTestDatabase } from '../support/databases.js';
import { spawnGatehouse } from '../support/process.js';
import { createTestStorage, freePort, startTestServer } from '../support/server.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

describe('OPS-5 health, readiness, metrics', () => {
  it('reports liveness and readiness, and serves Prometheus metrics on its own port only', async () => {
    const storage = await createTestStorage('postgres');
    const server = await startTestServer(storage);
    cleanup.push(() => storage.dispose(), () => server.stop());
    await registerApi(server);
    const service = await registerServiceClient(server);
    const basic = `Basic ${Buffer.from(`${service.clientId}:${service.secret}`).toString('base64')}`;
    for (let i = 0; i < 3; i += 1) {
      await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read' }),
      });
    }
    expect(await (await fetch(`${server.issuer}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${server.issuer}/readyz`)).json()).toEqual({ status: 'ready', checks: { database: true, migrations: true, keys: true } });
    expect((await fetch(`${server.issuer}/metrics`)).status).toBe(404);

    const metricsUrl = server.gatehouse.metricsUrl ?? '';
    expect(metricsUrl).not.toBe('');
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(/gatehouse_http_request_duration_seconds_count\{method="POST",route="\/token",status="200"\} 3/);
    expect(text).toMatch(/gatehouse_tokens_issued_total\{grant_type="client_credentials"\} 3/);
    expect(text).toMatch(/gatehouse_db_pool_connections\{state="used"\}/);
    expect(text).toContain('gatehouse_logins_total');
    expect(text).toContain('gatehouse_rate_limit_rejections_total');
  });
});

/** One request on its own connection (no keep-alive), so a refused connection is told apart from a cut answer. */
function tokenRequest(url: string, auth: string): Promise<'ok' | 'refused' | string> {
  return new Promise((resolve) => {
    const request = http.request(
      `${url}/token`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, connection: 'close' } },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve(response.statusCode === 200 && body.includes('access_token') ? 'ok' : `status ${response.statusCode}`));
        response.on('error', (error) => resolve(`cut: ${error.message}`));
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : `error: ${error.code ?? error.message}`));
    request.end(new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read' }).toString());
  });
}

describe('OPS-6 graceful shutdown', () => {
  it('on SIGTERM finishes every accepted request, refuses new ones, and exits 0 (two worker processes)', async () => {
    const database = await createTestDatabase();
    cleanup.push(() => database.drop());
    const secret = randomBytes(32).toString('base64url');
    const port = await freePort();
    const env = { DATABASE_URL: database.url, GATEHOUSE_SECRET: secret, ISSUER: `http://127.0.0.1:${port}`, RATE_LIMIT_IP_PER_MINUTE: '1000000', LOG_LEVEL: 'info', WORKERS: '2' };
    const gatehouse = await spawnGatehouse(env, port);
    cleanup.push(() => gatehouse.stop('SIGKILL'));

    // Register a service client through the same database (the process hears of it by NOTIFY).
    const storage = { kind: 'postgres' as const, env: { DATABASE_URL: database.url, GATEHOUSE_SECRET: secret }, dispose: async () => undefined };
    const helper = await startTestServer(storage, { ISSUER: env.ISSUER });
    await registerApi(helper);
    const service = await registerServiceClient(helper);
    await helper.stop();
    const auth = `Basic ${Buffer.from(`${service.clientId}:${service.secret}`).toString('base64')}`;
    await expect.poll(() => tokenRequest(gatehouse.url, auth), { timeout: 5000 }).toBe('ok');

    const servedTokenRequests = () =>
      gatehouse
        .output()
        .split('\n')
        .filter((line) => line.includes('"path":"/token"') && line.includes('"msg":"request"')).length;
    // A log line follows its response: let the warm-up request's line arrive first.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const servedBefore = servedTokenRequests();

    // Bounded load: 16 workers, each sending requests back to back for at most 4 seconds.
    const outcomes: string[] = [];
    let stopLoad = false;
    const workers = Array.from({ length: 16 }, async () => {
      const until = Date.now() + 4000;
      while (!stopLoad && Date.now() < until) {
        const outcome = await tokenRequest(gatehouse.url, auth);
        outcomes.push(outcome);
        if (outcome === 'refused') break;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 700));
    const exitCode = await gatehouse.stop('SIGTERM');
    stopLoad = true;
    await Promise.all(workers);

    expect(exitCode).toBe(0);
    const answered = outcomes.filter((outcome) => outcome === 'ok').length;
    expect(answered).toBeGreaterThan(20);
    // Nothing was answered badly; a connection the server never read from may be reset or refused.
    expect(outcomes.filter((outcome) => outcome !== 'ok' && outcome !== 'refused' && outcome !== 'error: ECONNRESET')).toEqual([]);
    // Every request the server accepted (and logged) reached its client complete.
    expect(servedTokenRequests() - servedBefore).toBe(answered);
  }, 60_000);
});
