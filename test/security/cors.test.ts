/** NET-4: CORS only for registered web origins, only where browsers need it, never `*` with credentials. */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApi, registerSpaClient } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

const REGISTERED = 'https://app.test.example';
const STRANGER = 'https://evil.example';
let storage: TestStorage;
let server: TestServer;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  await registerSpaClient(server);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

const preflight = (path: string, origin: string, method = 'POST', headers = 'content-type, dpop, x-custom') =>
  fetch(`${server.issuer}${path}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });

describe('NET-4 CORS', () => {
  it.each(['/token', '/token/revocation', '/me'])('answers a preflight to %s from a registered origin, with limited methods and headers', async (path) => {
    const response = await preflight(path, REGISTERED);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(REGISTERED);
    expect(response.headers.get('access-control-allow-methods')).not.toMatch(/PUT|DELETE|PATCH/);
    expect(response.headers.get('access-control-allow-headers')).toBe('content-type, dpop');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('vary')).toMatch(/origin/i);
  });

  it('gives an unregistered origin no CORS headers, on preflight or request', async () => {
    const pre = await preflight('/token', STRANGER);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    for (const path of ['/jwks', '/.well-known/openid-configuration']) {
      const response = await fetch(`${server.issuer}${path}`, { headers: { origin: STRANGER } });
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
    const token = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { origin: STRANGER, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'spa' }),
    });
    expect(token.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('echoes a registered origin (never *) on the discovery, JWKS and token responses', async () => {
    for (const path of ['/jwks', '/.well-known/openid-configuration']) {
      const response = await fetch(`${server.issuer}${path}`, { headers: { origin: REGISTERED } });
      expect(response.headers.get('access-control-allow-origin')).toBe(REGISTERED);
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    }
    const token = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { origin: REGISTERED, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'unknown', client_id: 'spa' }),
    });
    expect(token.status).toBe(400);
    expect(token.headers.get('access-control-allow-origin')).toBe(REGISTERED);
  });

  it('keeps foreign origins out when discovery and JWKS are served from the document cache', async () => {
    for (const path of ['/jwks', '/.well-known/openid-configuration']) {
      await fetch(`${server.issuer}${path}`, { headers: { origin: REGISTERED } });
      const cached = await fetch(`${server.issuer}${path}`, { headers: { origin: STRANGER } });
      expect(cached.status).toBe(200);
      expect(cached.headers.get('access-control-allow-origin')).toBeNull();
      const again = await fetch(`${server.issuer}${path}`, { headers: { origin: REGISTERED } });
      expect(again.headers.get('access-control-allow-origin')).toBe(REGISTERED);
    }
  });

  it('cannot be poisoned by a request that names another host', async () => {
    const { port } = new URL(server.issuer);
    const poisoned = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(`GET http://evil.example/jwks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
        socket.write(`GET http://evil.example/.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(poisoned).toContain('HTTP/1.1');
    for (let i = 0; i < 2; i += 1) {
      const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
      expect(discovery['token_endpoint']).toBe(`${server.issuer}/token`);
      expect(discovery['jwks_uri']).toBe(`${server.issuer}/jwks`);
    }
  });

  it('offers no CORS on endpoints browsers do not need (introspection, authorization)', async () => {
    expect((await preflight('/token/introspection', REGISTERED)).headers.get('access-control-allow-origin')).toBeNull();
    const introspection = await fetch(`${server.issuer}/token/introspection`, {
      method: 'POST',
      headers: { origin: REGISTERED, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'x', client_id: 'spa' }),
    });
    expect(introspection.headers.get('access-control-allow-origin')).toBeNull();
  });

  it("refuses a registered origin on another client's token request", async () => {
    const { registerClient } = await import('../support/fixtures.js');
    await registerClient(server, { client_id: 'other-spa', token_endpoint_auth_method: 'none', redirect_uris: ['https://other.test.example/cb'], scope: 'openid' });
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { origin: REGISTERED, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', client_id: 'other-spa', redirect_uri: 'https://other.test.example/cb', code_verifier: 'v'.repeat(43) }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
