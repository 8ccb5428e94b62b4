/**
 * JWT-1 and FLOW-5 for Gatehouse's own JWT access tokens: introspection says active only for a
 * genuine, unexpired, unrevoked token whose grant still exists; every forgery is inactive.
 */
import { SignJWT, generateKeyPair, importJWK, decodeJwt, decodeProtectedHeader, base64url, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { randomBytes } from 'node:crypto';
import { API, REDIRECT_URI, registerApi, registerClient, registerServiceClient, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer;
let resourceServer: oidc.Configuration;
let service: oidc.Configuration;

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
  await registerApi(server);
  await registerSpaClient(server);
  // A resource server: allowed to introspect tokens issued to other clients (issue 13 item 9).
  const rsSecret = randomBytes(32).toString('base64url');
  await registerClient(server, { client_id: 'resource-server', client_secret: rsSecret, grant_types: ['client_credentials'], scope: 'things:read', introspect_any_token: true });
  const rs = { clientId: 'resource-server', secret: rsSecret };
  const svc = await registerServiceClient(server, 'svc', 'things:read things:write');
  const discover = (id: string, secret: string) =>
    oidc.discovery(new URL(server.issuer), id, undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
  resourceServer = await discover(rs.clientId, rs.secret);
  service = await discover(svc.clientId, svc.secret);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

async function serviceJwt(): Promise<string> {
  return (await oidc.clientCredentialsGrant(service, { scope: 'things:read', resource: API })).access_token;
}

const introspect = (token: string) => oidc.tokenIntrospection(resourceServer, token);

function reassemble(header: object, payload: object, signature: string): string {
  const encode = (value: object) => base64url.encode(JSON.stringify(value));
  return `${encode(header)}.${encode(payload)}.${signature}`;
}

describe('JWT-1 introspection of Gatehouse JWT access tokens', () => {
  it('describes a genuine token as active, with its claims', async () => {
    const token = await serviceJwt();
    const claims = decodeJwt(token);
    const result = await introspect(token);
    expect(result).toMatchObject({ active: true, client_id: 'svc', scope: 'things:read', aud: API, exp: claims.exp, iat: claims.iat, jti: claims.jti, iss: server.issuer });
  });

  it('rejects a token with an edited payload', async () => {
    const [header, , signature] = (await serviceJwt()).split('.') as [string, string, string];
    const payload = { ...decodeJwt(await serviceJwt()), scope: 'things:read things:write admin' };
    const tampered = `${header}.${base64url.encode(JSON.stringify(payload))}.${signature}`;
    expect((await introspect(tampered)).active).toBe(false);
  });

  it('rejects alg "none"', async () => {
    const claims = decodeJwt(await serviceJwt());
    expect((await introspect(reassemble({ alg: 'none', typ: 'at+jwt' }, claims, ''))).active).toBe(false);
  });

  it('rejects HMAC signed with our public key (algorithm confusion)', async () => {
    const token = await serviceJwt();
    const { kid } = decodeProtectedHeader(token);
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: JWK[] };
    const publicKey = jwks.keys.find((key) => key.kid === kid);
    const secret = new TextEncoder().encode(JSON.stringify(publicKey));
    const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(secret);
    expect((await introspect(forged)).active).toBe(false);
  });

  it('rejects a token signed by a key that is not ours', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(decodeJwt(await serviceJwt())).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker' }).sign(privateKey);
    expect((await introspect(forged)).active).toBe(false);
  });

  it('rejects an expired token signed with our own key', async () => {
    const keyring = await server.gatehouse.services.keys.loadKeyring(new Date(), () => 3600);
    const signer = keyring.jwks.find((key) => key.alg === 'ES256') as JWK;
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...decodeJwt(await serviceJwt()), iat: now - 1000, exp: now - 100 })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: signer.kid as string })
      .sign(await importJWK(signer, 'ES256'));
    expect((await introspect(expired)).active).toBe(false);
  });

  it('FLOW-5 revocation makes a JWT inactive', async () => {
    const token = await serviceJwt();
    await oidc.tokenRevocation(service, token);
    expect((await introspect(token)).active).toBe(false);
  });

  it('lets only the client a JWT was issued to revoke it', async () => {
    const token = await serviceJwt();
    await oidc.tokenRevocation(resourceServer, token).catch(() => undefined);
    expect((await introspect(token)).active).toBe(true);
  });

  it('says inactive once the grant behind a user JWT is revoked (logout)', async () => {
    const user = await registerUser(server, 'gina');
    const spa = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(spa, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid things:read',
      resource: API,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st',
    });
    const browser = new HttpBrowser();
    const tokens = await oidc.authorizationCodeGrant(spa, await browser.authorize(url, server.issuer, user), { pkceCodeVerifier: verifier, expectedState: 'st' });
    expect(tokens.access_token.split('.')).toHaveLength(3);
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, sub: user.account.id, client_id: 'spa' });

    const confirm = await browser.follow(oidc.buildEndSessionUrl(spa, { id_token_hint: tokens.id_token ?? '' }), server.issuer);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec((await confirm.page?.text()) ?? '')?.[1] ?? '';
    await browser.follow(`${server.issuer}/session/end/confirm`, server.issuer, { form: { xsrf, logout: 'yes' } });
    expect((await introspect(tokens.access_token)).active).toBe(false);
  });

  it('still refuses to introspect for a client that cannot authenticate', async () => {
    const response = await fetch(`${server.issuer}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: await serviceJwt() }),
    });
    expect(response.status).toBe(400);
  });
});
