/**
 * JWT-2 live key rotation: a relying party that caches the JWKS as the server says it may keeps
 * verifying every token, across two rotations, with tokens from two replicas.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApi, registerServiceClient, API } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let replicas: TestServer[] = [];

const ROTATION_ENV = { KEY_PUBLISH_DELAY: '2', JWKS_CACHE_MAX_AGE: '1', KEY_REFRESH_INTERVAL: '1', RATE_LIMIT_IP_PER_MINUTE: '100000' };

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  const first = await startTestServer(storage, ROTATION_ENV);
  const second = await startTestServer(storage, { ...ROTATION_ENV, ISSUER: first.issuer });
  replicas = [first, second];
});

afterAll(async () => {
  for (const replica of replicas) await replica.stop();
  await storage?.dispose();
});

/** A relying party's JWKS cache that refetches only when the Cache-Control max-age has passed. */
class CachingRelyingParty {
  #keys: JWK[] = [];
  #fetchedAt = 0;
  #maxAge = 0;
  fetches = 0;

  async keys(from: string): Promise<JWK[]> {
    if (Date.now() - this.#fetchedAt >= this.#maxAge * 1000) {
      const response = await fetch(`${from}/jwks`);
      this.#maxAge = Number(/max-age=(\d+)/.exec(response.headers.get('cache-control') ?? '')?.[1] ?? 0);
      this.#keys = ((await response.json()) as { keys: JWK[] }).keys;
      this.#fetchedAt = Date.now();
      this.fetches += 1;
    }
    return this.#keys;
  }
}

describe('JWT-2 rotation without a failed verification', () => {
  it('keeps verifying tokens from both replicas across two rotations', async () => {
    const [first, second] = replicas as [TestServer, TestServer];
    await registerApi(first);
    await second.gatehouse.live.refresh();
    const service = await registerServiceClient(first, 'rotating-service', 'things:read');
    const rp = new CachingRelyingParty();
    const failures: string[] = [];
    const kids = new Set<string>();
    const started = Date.now();
    let rotations = 0;
    for (let i = 0; Date.now() - started < 9000; i += 1) {
      if (rotations === 0 && Date.now() - started > 1000) {
        await first.gatehouse.services.keys.rotate(2);
        await first.gatehouse.services.feed.publish('keys');
        rotations += 1;
      }
      if (rotations === 1 && Date.now() - started > 4500) {
        await second.gatehouse.services.keys.rotate(2);
        await second.gatehouse.services.feed.publish('keys');
        rotations += 1;
      }
      const replica = i % 2 ? second : first;
      const response = await fetch(`${replica.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${service.clientId}:${service.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read', resource: API }),
      });
      const { access_token: token } = (await response.json()) as { access_token: string };
      kids.add(String(decodeProtectedHeader(token).kid));
      try {
        await jwtVerify(token, createLocalJWKSet({ keys: await rp.keys((i % 3 ? first : second).issuer) }), {
          issuer: first.issuer,
          audience: API,
          algorithms: ['ES256'],
        });
      } catch (error) {
        failures.push(`${(error as Error).message} (kid ${decodeProtectedHeader(token).kid})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(rotations).toBe(2);
    expect(failures).toEqual([]);
    // Three generations of the ES256 key signed tokens: the rotations really happened.
    expect(kids.size).toBe(3);
    expect(rp.fetches).toBeGreaterThan(3);
  }, 30_000);
});

describe('document cache', () => {
  it('publishes a rotated key at once although discovery and JWKS are served from memory', async () => {
    const [first] = replicas as [TestServer];
    const before = ((await (await fetch(`${first.issuer}/jwks`)).json()) as { keys: JWK[] }).keys.map((key) => key.kid);
    const { kids } = await first.gatehouse.services.keys.rotate(60);
    await first.gatehouse.services.feed.publish('keys');
    await expect
      .poll(async () => ((await (await fetch(`${first.issuer}/jwks`)).json()) as { keys: JWK[] }).keys.map((key) => key.kid), { timeout: 3000 })
      .toEqual(expect.arrayContaining([...before, ...kids.filter((kid) => !kid.startsWith('cookie-'))]));
  });
});
