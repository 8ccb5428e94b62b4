/**
 * FLOW-8 / JWT-1: DPoP (RFC 9449) — tokens bound to a key the client proves it holds, proofs
 * checked with pinned algorithms, server nonces every replica accepts, each proof used once
 * across replicas on the same PostgreSQL.
 */
import { SignJWT, decodeJwt, exportJWK } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_API } from '../../src/admin/admin-api.js';
import { registerClients } from '../../src/clients/register.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { MasterSecret } from '../../src/security/master-secret.js';
import { DPOP_SIGNING_ALGS } from '../../src/provider/dpop.js';
import { dpopKey, hmacProof, proof, unsignedProof, type DpopKey } from '../support/dpop.js';
import { API, REDIRECT_URI, registerApi, registerClient, registerServiceClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { signInAndRedeem } from '../support/sign-in.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let service: { clientId: string; secret: string };
let user: Awaited<ReturnType<typeof registerUser>>;
const boundSecret = 'b'.repeat(43);

const discover = (clientId: string, auth: oidc.ClientAuth) =>
  oidc.discovery(new URL(server.issuer), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** A raw token request with a hand-made proof (or none). */
function tokenRequest(body: Record<string, string>, init: { dpop?: string; auth?: string; origin?: string; url?: string } = {}) {
  return fetch(init.url ?? `${server.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(init.auth ? { authorization: init.auth } : {}),
      ...(init.dpop ? { dpop: init.dpop } : {}),
      ...(init.origin ? { origin: init.origin } : {}),
    },
    body: new URLSearchParams(body),
  });
}

/** The nonce the server wants right now: asked for the way a client learns it, by a refused proof. */
async function currentNonce(key: DpopKey): Promise<string> {
  const refused = await tokenRequest({ grant_type: 'client_credentials' }, {
    auth: basic(service.clientId, service.secret),
    dpop: await proof(key, { htm: 'POST', htu: `${server.issuer}/token` }),
  });
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as { error: string }).error).toBe('use_dpop_nonce');
  const nonce = refused.headers.get('dpop-nonce');
  expect(nonce).toMatch(/^[\w-]{43}$/);
  return nonce ?? '';
}

async function introspect(token: string) {
  const response = await fetch(`${server.issuer}/token/introspection`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(service.clientId, service.secret) },
    body: new URLSearchParams({ token }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  // It introspects the user tokens of other clients too: a resource server's permission.
  service = await registerServiceClient(server, 'service', 'things:read things:write', { introspect_any_token: true });
  await registerClient(server, { client_id: 'bound-service', client_secret: boundSecret, grant_types: ['client_credentials'], scope: 'things:read', dpop_bound_access_tokens: true });
  await registerSpaClient(server);
  user = await registerUser(server);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

describe('FLOW-8 DPoP-bound tokens', () => {
  it('binds a client-credentials JWT access token to the key: cnf.jkt in the token and at introspection, token_type DPoP', async () => {
    const key = await dpopKey();
    const config = await discover(service.clientId, oidc.ClientSecretBasic(service.secret));
    const tokens = await oidc.clientCredentialsGrant(config, { resource: API, scope: 'things:read' }, { DPoP: oidc.getDPoPHandle(config, key) });
    expect(tokens.token_type).toBe('dpop');
    expect(decodeJwt(tokens.access_token)['cnf']).toEqual({ jkt: key.thumbprint });
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.thumbprint } });
  });

  it('refuses a DPoP-bound JWT access token for an API at userinfo, even with a valid proof (it is not for userinfo)', async () => {
    const key = await dpopKey();
    const config = await discover(service.clientId, oidc.ClientSecretBasic(service.secret));
    const dpop = oidc.getDPoPHandle(config, key);
    const tokens = await oidc.clientCredentialsGrant(config, { resource: API, scope: 'things:read' }, { DPoP: dpop });
    const nonce = await currentNonce(key);
    const response = await fetch(`${server.issuer}/me`, {
      headers: { authorization: `DPoP ${tokens.access_token}`, dpop: await proof(key, { htm: 'GET', htu: `${server.issuer}/me`, nonce, accessToken: tokens.access_token }) },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^DPoP .*invalid_token/);
  });

  it('binds an opaque access token the same way', async () => {
    const key = await dpopKey('EdDSA');
    const config = await discover(service.clientId, oidc.ClientSecretBasic(service.secret));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'things:read' }, { DPoP: oidc.getDPoPHandle(config, key) });
    expect(tokens.token_type).toBe('dpop');
    expect(tokens.access_token.split('.')).toHaveLength(1);
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.thumbprint } });
  });

  it('accepts a proof signed with every algorithm discovery advertises', async () => {
    const config = await discover(service.clientId, oidc.ClientSecretBasic(service.secret));
    for (const alg of DPOP_SIGNING_ALGS) {
      const key = await dpopKey(alg);
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'things:read' }, { DPoP: oidc.getDPoPHandle(config, key) });
      expect(tokens.token_type, alg).toBe('dpop');
      expect(await introspect(tokens.access_token), alg).toMatchObject({ active: true, cnf: { jkt: key.thumbprint } });
    }
  });

  it('issues plain Bearer tokens without cnf when no proof is sent', async () => {
    const response = await tokenRequest({ grant_type: 'client_credentials', scope: 'things:read' }, { auth: basic(service.clientId, service.secret) });
    const body = (await response.json()) as { token_type: string; access_token: string };
    expect(body.token_type).toBe('Bearer');
    const info = await introspect(body.access_token);
    expect(info['token_type']).toBe('Bearer');
    expect(info['cnf']).toBeUndefined();
  });

  it('binds a public client\'s tokens and refresh tokens to its key through authorization code and refresh', async () => {
    const key = await dpopKey();
    const spa = await discover('spa', oidc.None());
    const dpop = oidc.getDPoPHandle(spa, key);
    const { tokens } = await signInAndRedeem(server, spa, user, { scope: 'openid offline_access' }, undefined, { DPoP: dpop });
    expect(tokens.token_type).toBe('dpop');
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.thumbprint } });
    expect(await introspect(tokens.refresh_token ?? '')).toMatchObject({ active: true, cnf: { jkt: key.thumbprint } });

    // userinfo wants the proof too, with `ath` for this token; a Bearer presentation is refused.
    expect(await oidc.fetchUserInfo(spa, tokens.access_token, user.account.id, { DPoP: dpop })).toMatchObject({ sub: user.account.id });
    const asBearer = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/invalid_token/);

    // The refresh token works only with the same key.
    const otherKey = await dpopKey();
    await expect(oidc.refreshTokenGrant(spa, tokens.refresh_token ?? '', undefined, { DPoP: oidc.getDPoPHandle(spa, otherKey) })).rejects.toMatchObject({ error: 'invalid_grant' });
    const withoutProof = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '', client_id: 'spa' });
    expect(withoutProof.status).toBe(400);
    expect(((await withoutProof.json()) as { error: string }).error).toBe('invalid_grant');
    const refreshed = await oidc.refreshTokenGrant(spa, tokens.refresh_token ?? '', undefined, { DPoP: dpop });
    expect(refreshed.token_type).toBe('dpop');
    expect(await introspect(refreshed.refresh_token ?? '')).toMatchObject({ active: true, cnf: { jkt: key.thumbprint } });
  });

  it('makes DPoP mandatory for a client registered with dpop_bound_access_tokens', async () => {
    const refused = await tokenRequest({ grant_type: 'client_credentials', scope: 'things:read' }, { auth: basic('bound-service', boundSecret) });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_grant');
    const config = await discover('bound-service', oidc.ClientSecretBasic(boundSecret));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'things:read' }, { DPoP: oidc.getDPoPHandle(config, await dpopKey()) });
    expect(tokens.token_type).toBe('dpop');
  });

  it('accepts dpop_bound_access_tokens as client metadata and still rejects unknown fields by name', async () => {
    const { services, live } = server.gatehouse;
    await expect(registerClients([{ client_id: 'typo', grant_types: ['client_credentials'], scope: 'things:read', dpop_bound_access_token: true }], live.current, services.clients))
      .rejects.toThrow(/dpop_bound_access_token/);
    await expect(registerClients([{ client_id: 'typo', grant_types: ['client_credentials'], scope: 'things:read', dpop_bound_access_tokens: 'yes' }], live.current, services.clients))
      .rejects.toThrow(/dpop_bound_access_tokens/);
  });

  it('takes dpop_bound_access_tokens and require_pushed_authorization_requests through the admin API', async () => {
    const adminSecret = 'a'.repeat(43);
    await registerClient(server, { client_id: 'ops', client_secret: adminSecret, grant_types: ['client_credentials'], scope: 'admin:read admin:write' });
    const config = await discover('ops', oidc.ClientSecretBasic(adminSecret));
    const token = (await oidc.clientCredentialsGrant(config, { resource: ADMIN_API, scope: 'admin:read admin:write' })).access_token;
    const put = (body: unknown) =>
      fetch(`${server.issuer}/admin/v1/clients/native-app`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const metadata = { token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT_URI], scope: 'openid', dpop_bound_access_tokens: true, require_pushed_authorization_requests: true };
    expect((await put(metadata)).status).toBe(201);
    const saved = (await (await fetch(`${server.issuer}/admin/v1/clients/native-app`, { headers: { authorization: `Bearer ${token}` } })).json()) as Record<string, unknown>;
    expect(saved).toMatchObject({ dpop_bound_access_tokens: true, require_pushed_authorization_requests: true });
    const typo = await put({ ...metadata, require_pushed_authorization_request: true });
    expect(typo.status).toBe(400);
    expect(await typo.text()).toMatch(/require_pushed_authorization_request\b/);
  });
});

describe('FLOW-8 DPoP server nonces', () => {
  it('answers a proof without a nonce with use_dpop_nonce and a nonce, then accepts a proof that carries it', async () => {
    const key = await dpopKey();
    const nonce = await currentNonce(key);
    const accepted = await tokenRequest({ grant_type: 'client_credentials', scope: 'things:read' }, {
      auth: basic(service.clientId, service.secret),
      dpop: await proof(key, { htm: 'POST', htu: `${server.issuer}/token`, nonce }),
    });
    expect(accepted.status).toBe(200);
    expect(((await accepted.json()) as { token_type: string }).token_type).toBe('DPoP');
  });

  it('refuses a nonce the server never issued', async () => {
    const key = await dpopKey();
    const response = await tokenRequest({ grant_type: 'client_credentials' }, {
      auth: basic(service.clientId, service.secret),
      dpop: await proof(key, { htm: 'POST', htu: `${server.issuer}/token`, nonce: 'A'.repeat(43) }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('use_dpop_nonce');
    expect(response.headers.get('dpop-nonce')).toBeTruthy();
  });

  it('lets a browser client read DPoP-Nonce and WWW-Authenticate across origins', async () => {
    const response = await tokenRequest({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'spa' }, {
      origin: 'https://app.test.example',
      dpop: await proof(await dpopKey(), { htm: 'POST', htu: `${server.issuer}/token` }),
    });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.test.example');
    expect(response.headers.get('access-control-expose-headers')?.toLowerCase()).toMatch(/dpop-nonce/);
    expect(response.headers.get('access-control-expose-headers')?.toLowerCase()).toMatch(/www-authenticate/);
  });

  it('does not insist on a nonce with DPOP_REQUIRE_NONCE=false, but still offers one', async () => {
    const relaxed = await startTestServer(storage, { DPOP_REQUIRE_NONCE: 'false' });
    try {
      const response = await tokenRequest({ grant_type: 'client_credentials', scope: 'things:read' }, {
        url: `${relaxed.issuer}/token`,
        auth: basic(service.clientId, service.secret),
        dpop: await proof(await dpopKey(), { htm: 'POST', htu: `${relaxed.issuer}/token` }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('dpop-nonce')).toBeTruthy();
    } finally {
      await relaxed.stop();
    }
  });
});

describe('FLOW-8 DPoP settings', () => {
  const base = { GATEHOUSE_DATA_DIR: '/tmp/unused' };

  it('requires nonces unless DPOP_REQUIRE_NONCE=false, and refuses a value that is not a boolean', () => {
    expect(loadConfig(base).dpop.requireNonce).toBe(true);
    expect(loadConfig({ ...base, DPOP_REQUIRE_NONCE: 'false' }).dpop.requireNonce).toBe(false);
    expect(() => loadConfig({ ...base, DPOP_REQUIRE_NONCE: 'sometimes' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, DPOP_REQUIRE_NONCE: 'sometimes' })).toThrow(/DPOP_REQUIRE_NONCE/);
  });

  it('derives the nonce secret from the master secret: equal wherever the secret is', () => {
    const secret = 's'.repeat(40);
    const nonceSecret = new MasterSecret(secret).dpopNonceSecret();
    expect(nonceSecret).toHaveLength(32);
    expect(new MasterSecret(secret).dpopNonceSecret().equals(nonceSecret)).toBe(true);
    expect(new MasterSecret('t'.repeat(40)).dpopNonceSecret().equals(nonceSecret)).toBe(false);
  });
});

describe('JWT-1 DPoP proofs are checked with pinned algorithms', () => {
  const refusedProof = async (makeProof: (key: DpopKey, nonce: string) => Promise<string> | string) => {
    const key = await dpopKey();
    const nonce = await currentNonce(key);
    const response = await tokenRequest({ grant_type: 'client_credentials' }, { auth: basic(service.clientId, service.secret), dpop: await makeProof(key, nonce) });
    expect(response.status).toBe(400);
    return ((await response.json()) as { error: string }).error;
  };
  const htu = () => `${server.issuer}/token`;

  it('refuses a proof signed by a key other than the one it names', async () => {
    const other = await dpopKey();
    expect(await refusedProof((key, nonce) => proof(other, { htm: 'POST', htu: htu(), nonce }, key))).toBe('invalid_dpop_proof');
  });

  it('refuses alg none', async () => {
    expect(await refusedProof((key, nonce) => unsignedProof(key, { htm: 'POST', htu: htu(), nonce }))).toBe('invalid_dpop_proof');
  });

  it('refuses HS256 keyed with the public key', async () => {
    expect(await refusedProof((key, nonce) => hmacProof(key, { htm: 'POST', htu: htu(), nonce }))).toBe('invalid_dpop_proof');
  });

  it('refuses RS256 (not in the pinned list) even when correctly signed', async () => {
    const rsa = await dpopKey('RS256');
    expect(await refusedProof((_key, nonce) => proof(rsa, { htm: 'POST', htu: htu(), nonce }))).toBe('invalid_dpop_proof');
  });

  it('answers malformed DPoP headers with invalid_dpop_proof, never a 5xx', async () => {
    const key = await dpopKey();
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const malformed = [
      'x',
      'a.b.c',
      `${b64({ alg: 'ES256', typ: 'dpop+jwt' })}.${b64({})}.sig`,
      `${b64({ alg: 'ES256', typ: 'JWT', jwk: key.publicJwk })}.${b64({ htm: 'POST', htu: htu() })}.sig`,
      `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'AAAA' } })}.${b64({ htm: 'POST', htu: htu() })}.sig`,
      `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk })}.${'A'.repeat(6000)}.sig`,
      // A header that carries the private key: a client bug that must not be rewarded.
      await new SignJWT({ htm: 'POST', htu: htu(), jti: 'j', iat: Math.floor(Date.now() / 1000) })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.privateKey) })
        .sign(key.privateKey),
    ];
    for (const dpop of malformed) {
      const response = await tokenRequest({ grant_type: 'client_credentials' }, { auth: basic(service.clientId, service.secret), dpop });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_dpop_proof');
    }
  });

  it('refuses a proof for another URL or method', async () => {
    expect(await refusedProof((key, nonce) => proof(key, { htm: 'POST', htu: `${server.issuer}/me`, nonce }))).toBe('invalid_dpop_proof');
    expect(await refusedProof((key, nonce) => proof(key, { htm: 'GET', htu: htu(), nonce }))).toBe('invalid_dpop_proof');
  });

  it('advertises exactly the pinned algorithms in discovery', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata['dpop_signing_alg_values_supported']).toEqual([...DPOP_SIGNING_ALGS]);
    // Attestation-based client auth (which would add a challenge endpoint for DPoP) is off.
    expect(metadata['challenge_endpoint']).toBeUndefined();
    expect(metadata['token_endpoint_auth_methods_supported']).not.toContain('attest_jwt_client_auth');
    expect(DPOP_SIGNING_ALGS.some((alg) => /^(HS|RS|none)/i.test(alg))).toBe(false);
  });
});

describe('FLOW-8 a DPoP proof is used once across replicas', () => {
  let replica: GatehouseProcess;

  beforeAll(async () => {
    // Another process on the same database and master secret, behind the same public name.
    replica = await spawnGatehouse({ ...storage.env, ISSUER: server.issuer, TRUST_PROXY: 'true' }, await freePort());
  }, 60_000);

  afterAll(async () => {
    await replica?.stop();
  });

  const viaReplica = (body: Record<string, string>, dpop: string) =>
    fetch(`${replica.url}/token`, {
      method: 'POST',
      // What the load balancer says: the public host the client addressed (the proof's htu).
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(service.clientId, service.secret), dpop, 'x-forwarded-host': new URL(server.issuer).host, 'x-forwarded-proto': 'http' },
      body: new URLSearchParams(body),
    });

  it('accepts a nonce issued by the other replica and refuses the same proof there once it was used', async () => {
    const key = await dpopKey();
    const nonce = await currentNonce(key);
    const body = { grant_type: 'client_credentials', scope: 'things:read' };
    const once = await proof(key, { htm: 'POST', htu: `${server.issuer}/token`, nonce });
    const fresh = await viaReplica(body, await proof(key, { htm: 'POST', htu: `${server.issuer}/token`, nonce }));
    expect(fresh.status).toBe(200);

    expect((await tokenRequest(body, { auth: basic(service.clientId, service.secret), dpop: once })).status).toBe(200);
    const replayed = await viaReplica(body, once);
    expect(replayed.status).toBe(400);
    expect(((await replayed.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('lets exactly one of many simultaneous uses of one proof through, spread over both replicas', async () => {
    const key = await dpopKey();
    const nonce = await currentNonce(key);
    const body = { grant_type: 'client_credentials', scope: 'things:read' };
    const once = await proof(key, { htm: 'POST', htu: `${server.issuer}/token`, nonce });
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? viaReplica(body, once) : tokenRequest(body, { auth: basic(service.clientId, service.secret), dpop: once }))),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 400)).toHaveLength(7);
    // Whether seen as used before or beaten to the same insert, a replay is a replay.
    const errors = await Promise.all(responses.filter((response) => response.status === 400).map(async (response) => ((await response.json()) as { error: string }).error));
    expect(errors).toEqual(Array.from({ length: 7 }, () => 'invalid_grant'));
    expect(server.logs.join('')).not.toMatch(/provider server error/);
  });
});
