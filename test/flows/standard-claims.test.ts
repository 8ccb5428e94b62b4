/**
 * FLOW-10 / FLOW-6: OpenID Connect standard claims by scope and by the `claims` request
 * parameter, `acr`, RS256 ID tokens by default, and what discovery says about them — on both
 * databases.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_MFA, ACR_PASSWORD, ACR_PHISHING_RESISTANT } from '../../src/accounts/authentication-context.js';
import { registerClients } from '../../src/clients/register.js';
import { HttpBrowser } from '../support/browser-over-http.js';
import { API, REDIRECT_URI, registerApi, registerClient, registerSpaClient } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';
import { discoverClient, signInAndRedeem } from '../support/sign-in.js';

const FULL_PROFILE = {
  name: 'Carol Q. Example',
  given_name: 'Carol',
  family_name: 'Example',
  middle_name: 'Quinn',
  nickname: 'CQ',
  profile: 'https://people.example.com/carol',
  picture: 'https://people.example.com/carol.png',
  website: 'https://carol.example.org',
  gender: 'female',
  birthdate: '1990-02-28',
  zoneinfo: 'Europe/Paris',
  locale: 'fr-FR',
  email: 'carol@example.com',
  email_verified: true,
  phone_number: '+33123456789',
  phone_number_verified: true,
  address: { street_address: '1 rue de la Paix', locality: 'Paris', postal_code: '75002', country: 'FR' },
} as const;

describe.each<DatabaseChoice>(['postgres', 'embedded'])('OpenID Connect standards (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  const user = { username: 'carol', password: 'lantern-harbour-0123' };
  let spa: oidc.Configuration;
  let accountId: string;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    await registerApi(server);
    await registerSpaClient(server, { scope: 'openid profile email address phone offline_access things:read' });
    accountId = (await server.gatehouse.services.accounts.create({ username: user.username, ...FULL_PROFILE }, user.password)).id;
    spa = await discoverClient(server, 'spa');
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  describe('FLOW-10 standard claims', () => {
    it('releases the full profile, e-mail, address and phone claims for their scopes at userinfo', async () => {
      const { tokens } = await signInAndRedeem(server, spa, user, { scope: 'openid profile email address phone' });
      const userinfo = await oidc.fetchUserInfo(spa, tokens.access_token, accountId);
      expect(userinfo).toMatchObject({ sub: accountId, preferred_username: 'carol', ...FULL_PROFILE });
      expect(userinfo.updated_at).toEqual(expect.any(Number));
    });

    it('releases only what each scope covers', async () => {
      const { tokens } = await signInAndRedeem(server, spa, user, { scope: 'openid phone' });
      const userinfo = await oidc.fetchUserInfo(spa, tokens.access_token, accountId);
      expect(userinfo).toEqual({ sub: accountId, phone_number: FULL_PROFILE.phone_number, phone_number_verified: true });
    });

    it('honours the claims request parameter, essential claims included, in the ID token and at userinfo', async () => {
      const claims = JSON.stringify({
        id_token: { email: { essential: true }, given_name: null },
        userinfo: { birthdate: { essential: true }, address: null },
      });
      const { tokens } = await signInAndRedeem(server, spa, user, { scope: 'openid', claims });
      const idToken = tokens.claims();
      expect(idToken).toMatchObject({ sub: accountId, email: FULL_PROFILE.email, given_name: 'Carol' });
      expect(idToken?.['birthdate']).toBeUndefined();
      const userinfo = await oidc.fetchUserInfo(spa, tokens.access_token, accountId);
      expect(userinfo).toEqual({ sub: accountId, birthdate: FULL_PROFILE.birthdate, address: FULL_PROFILE.address });
    });

    it('refuses a claims parameter that is not JSON', async () => {
      const url = oidc.buildAuthorizationUrl(spa, { redirect_uri: REDIRECT_URI, scope: 'openid', claims: '{nope', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256', state: 's' });
      const response = await fetch(url, { redirect: 'manual' });
      expect(new URL(response.headers.get('location') ?? '').searchParams.get('error')).toBe('invalid_request');
    });
  });

  describe('FLOW-10 acr', () => {
    it('says in every ID token that the user signed in with a password', async () => {
      const { tokens } = await signInAndRedeem(server, spa, user);
      expect(tokens.claims()).toMatchObject({ acr: ACR_PASSWORD, amr: ['pwd'] });
    });

    it('answers acr_values (voluntary) with the class actually used', async () => {
      const { tokens } = await signInAndRedeem(server, spa, user, { acr_values: `urn:example:unknown ${ACR_PASSWORD}` });
      expect(tokens.claims()?.acr).toBe(ACR_PASSWORD);
      const other = await signInAndRedeem(server, spa, user, { acr_values: 'urn:example:unknown' });
      expect(other.tokens.claims()?.acr).toBe(ACR_PASSWORD);
    });

    it('meets an essential acr it can provide, and fails one it cannot instead of downgrading', async () => {
      const met = await signInAndRedeem(server, spa, user, { claims: JSON.stringify({ id_token: { acr: { essential: true, values: [ACR_PASSWORD] } } }) });
      expect(met.tokens.claims()?.acr).toBe(ACR_PASSWORD);

      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(spa, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        claims: JSON.stringify({ id_token: { acr: { essential: true, value: 'urn:example:hardware-key' } } }),
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 's',
      });
      const { url: callback } = await new HttpBrowser().follow(url, server.issuer);
      expect(callback.origin + callback.pathname).toBe(REDIRECT_URI);
      expect(callback.searchParams.get('error')).toBe('unmet_authentication_requirements');
      expect(callback.searchParams.get('code')).toBeNull();
    });
  });

  describe('FLOW-1 PKCE opt-out', () => {
    it('lets a confidential client with require_pkce false complete the code flow without PKCE and without a nonce', async () => {
      const secret = 'legacy-secret-'.padEnd(40, 'x');
      const [saved] = await registerClients(
        [{ client_id: 'legacy-rp', client_secret: secret, redirect_uris: [REDIRECT_URI], scope: 'openid email', require_pkce: false }],
        server.gatehouse.live.current,
        server.gatehouse.services.clients,
      );
      expect(saved?.warnings?.[0]).toContain('require_pkce is false');
      expect((await server.gatehouse.services.clients.list()).find((client) => client.clientId === 'legacy-rp')?.pkceRequired).toBe(false);
      expect((await server.gatehouse.services.clients.list()).find((client) => client.clientId === 'spa')?.pkceRequired).toBe(true);

      const legacy = await discoverClient(server, 'legacy-rp', secret);
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(legacy, { redirect_uri: REDIRECT_URI, scope: 'openid email', state });
      expect(url.searchParams.has('code_challenge')).toBe(false);
      expect(url.searchParams.has('nonce')).toBe(false);
      const callback = await new HttpBrowser().authorize(url, server.issuer, user);
      const tokens = await oidc.authorizationCodeGrant(legacy, callback, { expectedState: state, pkceCodeVerifier: undefined }, undefined);
      expect(tokens.claims()).toMatchObject({ sub: accountId, aud: 'legacy-rp' });
      expect(tokens.claims()?.nonce).toBeUndefined();
    });

    it('still demands PKCE from a confidential client that did not opt out', async () => {
      await registerClient(server, { client_id: 'strict-rp', client_secret: 'strict-secret-'.padEnd(40, 'x'), redirect_uris: [REDIRECT_URI], scope: 'openid' });
      const url = oidc.buildAuthorizationUrl(await discoverClient(server, 'strict-rp', 'strict-secret-'.padEnd(40, 'x')), { redirect_uri: REDIRECT_URI, scope: 'openid', nonce: 'n', state: 's' });
      const response = await fetch(url, { redirect: 'manual' });
      expect(new URL(response.headers.get('location') ?? '').searchParams.get('error')).toBe('invalid_request');
    });
  });

  describe('FLOW-6 ID token signing algorithm', () => {
    it('signs ID tokens with RS256 unless the client registered another algorithm; API tokens stay ES256', async () => {
      const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
      const { tokens } = await signInAndRedeem(server, spa, user, { scope: 'openid things:read', resource: API });
      expect(decodeProtectedHeader(tokens.id_token ?? '').alg).toBe('RS256');
      await jwtVerify(tokens.id_token ?? '', jwks, { issuer: server.issuer, audience: 'spa', algorithms: ['RS256'] });
      expect(decodeProtectedHeader(tokens.access_token).alg).toBe('ES256');

      await registerClient(server, { client_id: 'es-spa', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT_URI], scope: 'openid', id_token_signed_response_alg: 'ES256' });
      const es = await signInAndRedeem(server, await discoverClient(server, 'es-spa'), user);
      expect(decodeProtectedHeader(es.tokens.id_token ?? '').alg).toBe('ES256');
    });
  });

  describe('FLOW-6 discovery', () => {
    it('advertises relying-party scopes only, the standard claims, the claims parameter and the acr values', async () => {
      const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      const scopes = metadata['scopes_supported'] as string[];
      expect(scopes).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'address', 'phone', 'offline_access', 'things:read']));
      expect(scopes.filter((scope) => scope.startsWith('admin:'))).toEqual([]);
      expect(metadata['claims_parameter_supported']).toBe(true);
      // Only what a sign-in can produce: no phrh without attestation.
      expect(metadata['acr_values_supported']).toEqual([ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT]);
      expect(metadata['claims_supported']).toEqual(expect.arrayContaining([...Object.keys(FULL_PROFILE), 'sub', 'preferred_username', 'updated_at', 'acr', 'amr']));
      expect(metadata['id_token_signing_alg_values_supported']).toEqual(expect.arrayContaining(['RS256']));
    });
  });
});
