/**
 * The edge (API-1, API-5; issue 13 items 1, 4, 6): one body limit with one answer (413, OAuth
 * error body, logged) for every endpoint, chunked or declared, with or without credentials;
 * the per-address limit before any body is read; failed client authentications counted per
 * client+address, apart from the client's own budget.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApi, registerServiceClient } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let service: { clientId: string; secret: string };
let guarded: { clientId: string; secret: string };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage, { TRUST_PROXY: 'true', RATE_LIMIT_CLIENT_PER_MINUTE: '4', RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_MINUTE: '3' });
  await registerApi(server);
  service = await registerServiceClient(server, 'service', 'things:read');
  guarded = await registerServiceClient(server, 'guarded', 'things:read');
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends `size` bytes of form body in chunks (no Content-Length) unless `declared`; reports the answer. */
function post(path: string, size: number, options: { headers?: Record<string, string>; declared?: boolean; ip?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.issuer);
    const request = http.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(options.declared ? { 'content-length': String(size) } : { 'transfer-encoding': 'chunked' }),
        ...(options.ip ? { 'x-forwarded-for': options.ip } : {}),
        ...options.headers,
      },
    });
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    // The server may close once it has answered; what it answered is what counts.
    request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
    const chunk = Buffer.alloc(16 * 1024, 'a');
    chunk.write('token=');
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const piece = chunk.subarray(0, Math.min(chunk.length, size - sent));
        sent += piece.length;
        if (!request.write(piece)) return void request.once('drain', pump);
      }
      request.end();
    };
    pump();
  });
}

const TEN_MB = 10 * 1024 * 1024;

describe('item 1: one body limit, one answer (API-5)', () => {
  it.each([
    ['/token', 'chunked, no credentials', {}],
    ['/token', 'chunked, Basic credentials', { headers: { authorization: basic('service', 'whatever') } }],
    ['/token', 'declared, Basic credentials', { declared: true, headers: { authorization: basic('service', 'whatever') } }],
    ['/token/introspection', 'chunked', { headers: { authorization: basic('service', 'whatever') } }],
    ['/token/revocation', 'declared', { declared: true }],
    ['/me', 'chunked', {}],
    ['/admin/v1/clients/x', 'declared (host route)', { declared: true }],
  ] as const)('%s %s: 10 MB is 413 with an OAuth error body', async (path, _how, options) => {
    const answer = await post(path, TEN_MB, { ...options, ip: `192.0.2.${path.length}` });
    expect(answer.status).toBe(413);
    expect(answer.headers['connection']).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('too large') });
  });

  it.each([
    ['/session/end/confirm', 'chunked (an engine page)', {}],
    ['/interaction/abc/login', 'declared (a host page)', { declared: true }],
  ] as const)('%s %s: 10 MB is a 413 page for people', async (path, _how, options) => {
    const answer = await post(path, TEN_MB, { ...options, ip: '192.0.2.150', headers: { accept: 'text/html' } });
    expect(answer.status).toBe(413);
    expect(answer.headers['content-type']).toMatch(/^text\/html/);
    expect(answer.body).toContain('too large');
  });

  it('logs the refusal with its status and keeps the request line (no 500, nothing thrown outside the boundary)', async () => {
    const before = server.logs.length;
    expect((await post('/token', 200 * 1024, { ip: '192.0.2.200' })).status).toBe(413);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lines = server.logs.slice(before).join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request rejected', status: 413 }));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request', status: 413, path: '/token', ip: '192.0.2.200' }));
    expect(lines.filter((line) => line['level'] as number >= 50)).toEqual([]);
  });

  it('a body just under the limit still reaches the engine', async () => {
    const answer = await post('/token', 50 * 1024, { headers: { authorization: basic(service.clientId, service.secret) }, ip: '192.0.2.201' });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request' });
  });
});

describe('item 4: the per-address limit comes before the body is read', () => {
  it('refuses an address over its limit without reading its body', async () => {
    const limited = await startTestServer(storage, { RATE_LIMIT_IP_PER_MINUTE: '1' });
    try {
      const url = new URL('/token', limited.issuer);
      const first = await fetch(url, { method: 'POST', body: 'grant_type=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(first.status).toBe(400);
      // The second request's body never arrives: only a refusal that does not wait for it can answer.
      const answer = await new Promise<number>((resolve, reject) => {
        const request = http.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' } });
        request.on('response', (response) => {
          resolve(response.statusCode ?? 0);
          request.destroy();
        });
        request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
        request.write('grant_type=client_');
        setTimeout(() => reject(new Error('the edge waited for the body')), 3000).unref();
      });
      expect(answer).toBe(429);
    } finally {
      await limited.stop();
    }
  });
});

describe('item 6: failed client authentications are counted apart from the client budget (API-1)', () => {
  const token = (auth: string, ip: string) =>
    fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, 'x-forwarded-for': ip },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read' }),
    });

  it('a stranger guessing secrets is stopped per address and cannot spend the real client’s budget', async () => {
    const stranger: number[] = [];
    for (let i = 0; i < 6; i += 1) stranger.push((await token(basic('guarded', `guess-${i}`), '203.0.113.66')).status);
    expect(stranger).toEqual([401, 401, 401, 429, 429, 429]);
    const refused = await token(basic('guarded', 'guess-x'), '203.0.113.66');
    expect(refused.headers.get('ratelimit-policy')).toBe('"client-auth-failures";q=3;w=60');
    // Another stranger elsewhere has an allowance of their own.
    expect((await token(basic('guarded', 'guess-y'), '203.0.113.67')).status).toBe(401);

    const real: number[] = [];
    for (let i = 0; i < 5; i += 1) real.push((await token(basic(guarded.clientId, guarded.secret), '198.51.100.10')).status);
    expect(real).toEqual([200, 200, 200, 200, 429]);
    expect(server.logs.join('')).toContain('"policy":"client-auth-failures"');
  });
});
