/**
 * API-3 for FLOW-11: whatever metadata a registration or an RFC 7592 update carries, the answer
 * is a 201/200 or a clear 4xx, never a 5xx; a refused request stores nothing, and anything
 * stored passes the operator client schema. On PostgreSQL and on the embedded database.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientMetadataSchema } from '../../src/clients/schema.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';

const FIELDS = [
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'response_types',
  'token_endpoint_auth_method',
  'token_endpoint_auth_signing_alg',
  'scope',
  'client_name',
  'application_type',
  'contacts',
  'jwks',
  'jwks_uri',
  'id_token_signed_response_alg',
  'default_max_age',
  'require_auth_time',
  'require_pkce',
  'client_secret',
  'client_id',
  'subject_type',
  'sector_identifier_uri',
  'software_id',
  '__proto__',
  'constructor',
];
const plausible = fc.oneof(
  fc.constantFrom(
    ['https://rp.test.example/cb'],
    ['http://127.0.0.1:8080/cb'],
    ['com.example.app:/cb'],
    ['javascript:alert(1)'],
    ['https://rp.test.example/cb#frag'],
    ['authorization_code', 'refresh_token'],
    ['client_credentials'],
    ['implicit'],
    ['code'],
    [],
    'none',
    'client_secret_basic',
    'private_key_jwt',
    'native',
    'web',
    'openid profile',
    'openid admin:write',
    'RS256',
    'HS256',
    'none',
    { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] },
    { keys: [{ kty: 'oct', k: 'abc' }] },
    'a\u0000b',
    '\ud800',
    -1,
    1e308,
    true,
    null,
    '',
  ),
  fc.jsonValue({ maxDepth: 2 }),
);
const metadata = fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 12 })), plausible, { maxKeys: 8 });
const body = fc.oneof(
  { weight: 8, arbitrary: metadata.map((value) => JSON.stringify({ redirect_uris: ['https://rp.test.example/cb'], ...value })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);

describe.each<DatabaseChoice>(['postgres', 'embedded'])('on %s', (kind) => {
  let storage: TestStorage;
  let server: TestServer;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage, {
      REGISTRATION: 'open',
      REGISTRATION_GRANT_TYPES: 'authorization_code,refresh_token,client_credentials',
      RATE_LIMIT_REGISTRATION_PER_HOUR: '1000000',
      RATE_LIMIT_IP_PER_MINUTE: '1000000',
      LOG_LEVEL: 'warn',
    });
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  async function storedClientsAreValid(): Promise<void> {
    const rows = (await server.gatehouse.services.db.knex('clients').select('client_id', 'metadata')) as { client_id: string; metadata: Record<string, unknown> }[];
    for (const row of rows) expect(clientMetadataSchema.safeParse({ ...row.metadata, client_id: row.client_id }).success, row.client_id).toBe(true);
  }

  describe('API-3 fuzzing the registration endpoints', () => {
    it('answers every registration with 201 or a 4xx, and stores only valid clients', async () => {
      await fc.assert(
        fc.asyncProperty(body, async (text) => {
          const before = (await server.gatehouse.services.clients.list()).length;
          const response = await fetch(`${server.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
          const answer = await response.text();
          expect(response.status, answer).toBeLessThan(500);
          expect(answer).not.toMatch(/at .*\.(ts|js):\d+/);
          const after = (await server.gatehouse.services.clients.list()).length;
          expect(after).toBe(response.status === 201 ? before + 1 : before);
        }),
        { numRuns: 250 },
      );
      await storedClientsAreValid();
    });

    it('answers every update with 200 or a 4xx, leaving a refused update without effect', async () => {
      const created = (await (
        await fetch(`${server.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['https://rp.test.example/cb'] }) })
      ).json()) as { client_id: string; registration_access_token: string };
      let token = created.registration_access_token;
      await fc.assert(
        fc.asyncProperty(body, async (text) => {
          const before = await server.gatehouse.services.clients.metadata(created.client_id);
          let sent = text;
          try {
            const parsed = JSON.parse(text) as unknown;
            if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) sent = JSON.stringify({ ...parsed, client_id: created.client_id });
          } catch {
            // not JSON: sent as it is
          }
          const response = await fetch(`${server.issuer}/reg/${created.client_id}`, {
            method: 'PUT',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: sent,
          });
          const answer = await response.text();
          expect(response.status, answer).toBeLessThan(500);
          if (response.status === 200) token = (JSON.parse(answer) as { registration_access_token: string }).registration_access_token;
          else expect(await server.gatehouse.services.clients.metadata(created.client_id)).toEqual(before);
        }),
        { numRuns: 200 },
      );
      await storedClientsAreValid();
    });
  });
});
