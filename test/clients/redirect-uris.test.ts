/**
 * FLOW-9 redirect URI registration (RFC 8252, RFC 9700 §2.1, §4.1): plain http only for loopback
 * hosts, no fragments, private-use schemes only for native clients; every error names the URI and
 * nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerClients } from '../../src/clients/register.js';
import type { ClientMetadataInput } from '../../src/clients/schema.js';
import { ValidationError } from '../../src/validation.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

const register = (client: Partial<ClientMetadataInput>) =>
  registerClients(
    [{ client_id: 'app', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], ...client }],
    server.gatehouse.live.current,
    server.gatehouse.services.clients,
  );

async function problemsOf(client: Partial<ClientMetadataInput>): Promise<string[]> {
  const error = await register(client).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return [...(error as ValidationError).problems];
}

describe('FLOW-9 redirect URI registration rules', () => {
  it.each([
    ['web', 'http://evil.example/cb', 'plain http on a host that is not loopback'],
    ['native', 'http://evil.example/cb', 'plain http on a host that is not loopback'],
    ['web', 'http://127.0.0.2.nip.example/cb', 'plain http on a host that is not loopback'],
    ['web', 'https://app.example/cb#done', 'must not contain a fragment'],
    ['native', 'com.example.app:/cb#x', 'must not contain a fragment'],
    ['native', 'javascript:alert(1)', 'must not use the javascript scheme'],
    ['web', 'com.example.app:/oauth2redirect', 'application_type "native"'],
  ] as const)('refuses a %s client redirecting to %s, naming the URI', async (applicationType, uri, reason) => {
    const problems = await problemsOf({ application_type: applicationType, redirect_uris: ['https://ok.example/cb', uri] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`"${uri}"`);
    expect(problems[0]).toContain(reason);
    expect(problems[0]).toContain('redirect_uris');
    await expect(server.gatehouse.services.clients.find('app')).resolves.toBeUndefined();
  });

  it('applies the same rules to post-logout redirect URIs', async () => {
    const problems = await problemsOf({ redirect_uris: ['https://ok.example/cb'], post_logout_redirect_uris: ['http://evil.example/'] });
    expect(problems).toEqual([expect.stringContaining('post_logout_redirect_uris "http://evil.example/" uses plain http')]);
  });

  it('accepts loopback http (localhost too, though not recommended), https, and native private-use and claimed https redirects', async () => {
    const [web] = await register({
      redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://localhost:5173/cb', 'https://app.example/cb'],
      post_logout_redirect_uris: ['http://localhost:5173/'],
    });
    expect(web?.clientId).toBe('app');
    const [native] = await registerClients(
      [
        {
          client_id: 'native',
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]/cb', 'com.example.app:/oauth2redirect', 'https://app.example/oauth2redirect'],
        },
      ],
      server.gatehouse.live.current,
      server.gatehouse.services.clients,
    );
    expect(native?.clientId).toBe('native');
  });
});
