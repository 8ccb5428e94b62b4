/**
 * FLOW-6: every discovery field Gatehouse advertises (outside DPoP, PAR and mTLS, which their
 * own tests cover) is true — each client authentication method and signing algorithm, each
 * response mode, each endpoint — on both databases.
 */
import { exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, REDIRECT_URI, registerApi, registerClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';
import { discoverClient, signInAndRedeem } from '../support/sign-in.js';

interface Metadata {
  readonly [field: string]: unknown;
  readonly token_endpoint_auth_methods_supported: string[];
  readonly token_endpoint_auth_signing_alg_values_supported: string[];
  readonly id_token_signing_alg_values_supported: string[];
  readonly response_modes_supported: string[];
  readonly subject_types_supported: string[];
}

describe.each<DatabaseChoice>(['postgres', 'embedded'])('FLOW-6 discovery metadata is true (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  let metadata: Metadata;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    await registerApi(server);
    await registerSpaClient(server);
    metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Metadata;
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  it('authenticates clients with client_secret_basic, client_secret_post and private_key_jwt with every advertised algorithm', async () => {
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']));
    const secret = 's'.repeat(43);
    for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
      await registerClient(server, { client_id: `svc-${method}`, client_secret: secret, token_endpoint_auth_method: method, grant_types: ['client_credentials'], scope: 'things:read' });
      const auth = method === 'client_secret_basic' ? oidc.ClientSecretBasic(secret) : oidc.ClientSecretPost(secret);
      const config = await oidc.discovery(new URL(server.issuer), `svc-${method}`, undefined, auth, { execute: [oidc.allowInsecureRequests] });
      expect((await oidc.clientCredentialsGrant(config, { scope: 'things:read', resource: API })).access_token, method).toEqual(expect.any(String));
    }
    for (const alg of metadata.token_endpoint_auth_signing_alg_values_supported) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const clientId = `svc-jwt-${alg.toLowerCase()}`;
      await registerClient(server, {
        client_id: clientId,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: alg as 'ES256',
        jwks: { keys: [{ ...(await exportJWK(publicKey)), alg, use: 'sig' }] },
        grant_types: ['client_credentials'],
        scope: 'things:read',
      });
      // openid-client labels an Ed25519 key with the newer fully-specified name; the registered name is EdDSA.
      const auth = oidc.PrivateKeyJwt(privateKey, {
        [oidc.modifyAssertion]: (header: { alg?: string }) => {
          header.alg = alg;
        },
      });
      const config = await oidc.discovery(new URL(server.issuer), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
      expect((await oidc.clientCredentialsGrant(config, { scope: 'things:read', resource: API })).access_token, alg).toEqual(expect.any(String));
    }
  });

  it('returns the code in every advertised response mode and signs ID tokens with every advertised algorithm', async () => {
    // Each algorithm listed has a test that it works (RS256 default, ES256 on request: standard-claims.test.ts).
    expect([...metadata.id_token_signing_alg_values_supported].sort()).toEqual(['ES256', 'RS256']);
    expect(metadata.subject_types_supported).toEqual(['public']);
    expect([...metadata.response_modes_supported].sort()).toEqual(['form_post', 'fragment', 'query']);
    const user = await registerUser(server, `mode-${kind}`);
    const spa = await discoverClient(server, 'spa');
    const { browser, tokens } = await signInAndRedeem(server, spa, user);
    expect(tokens.claims()?.sub).toBe(user.account.id);
    const authorize = async (mode: string) => {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(spa, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        response_mode: mode,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: `state-${mode}`,
      });
      return browser.request(url);
    };
    const query = new URL((await authorize('query')).headers.get('location') ?? '');
    expect(query.searchParams.get('code')).toEqual(expect.any(String));
    const fragment = new URL((await authorize('fragment')).headers.get('location') ?? '');
    expect(new URLSearchParams(fragment.hash.slice(1)).get('code')).toEqual(expect.any(String));
    expect(fragment.search).toBe('');
    const formPost = await authorize('form_post');
    const html = await formPost.text();
    expect(html).toContain(`action="${REDIRECT_URI}"`);
    expect(html).toMatch(/name="code" value="[^"]+"/);
    expect(html).toContain('value="state-form_post"');
  });

  it('serves every advertised endpoint', async () => {
    const endpoints = ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'introspection_endpoint', 'revocation_endpoint'];
    for (const field of endpoints) {
      const url = metadata[field];
      expect(typeof url, field).toBe('string');
      const method = ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint'].includes(field) ? 'POST' : 'GET';
      const response = await fetch(url as string, { method, redirect: 'manual', headers: { accept: 'text/html,application/json' } });
      expect(response.status, field).not.toBe(404);
      expect(response.status, field).toBeLessThan(500);
    }
  });
});
