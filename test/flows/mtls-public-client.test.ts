/**
 * FLOW-8 (RFC 8705 sections 3 and 4): a public client with certificate-bound tokens. Its access
 * token works only with the same certificate (userinfo checks cnf), and so does its refresh
 * token. The certificate arrives as a trusted proxy forwards it (this test process plays the
 * proxy over plain HTTP), the way a mesh sidecar hands it to Gatehouse.
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerSpaClient, registerUser } from '../support/fixtures.js';
import { certificateDirectory, createAuthority, issueCertificate, type Issued } from '../support/certificates.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { signInAndRedeem } from '../support/sign-in.js';

const XFCC = 'x-forwarded-client-cert';
let storage: TestStorage;
let server: TestServer;
let user: { username: string; password: string };
const files = certificateDirectory();
let mine: Issued;
let someoneElses: Issued;

const forwarded = (cert: Issued | undefined): Record<string, string> => (cert ? { [XFCC]: `Cert="${encodeURIComponent(cert.certPem)}"` } : {});

function clientWith(cert: Issued | undefined, metadata: oidc.Configuration) {
  const config = new oidc.Configuration(metadata.serverMetadata(), 'spa', undefined, oidc.None());
  oidc.allowInsecureRequests(config);
  config[oidc.customFetch] = (url, options) => fetch(url, { ...options, headers: { ...options.headers, ...forwarded(cert) } } as RequestInit);
  return config;
}

beforeAll(async () => {
  const authority = createAuthority();
  mine = issueCertificate(authority, { subject: '/CN=device-1' });
  someoneElses = issueCertificate(authority, { subject: '/CN=device-2' });
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage, { CLIENT_CERT_HEADER: XFCC, TRUSTED_PROXIES: '127.0.0.1', MTLS_CA_FILE: files.write('ca.crt', authority.certPem) });
  await registerSpaClient(server, { tls_client_certificate_bound_access_tokens: true, scope: 'openid profile offline_access' });
  user = await registerUser(server);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
  files.dispose();
});

describe('FLOW-8 certificate-bound tokens of a public client', () => {
  it('binds the access and refresh tokens to the certificate that redeemed the code', async () => {
    const discovered = await oidc.discovery(new URL(server.issuer), 'spa', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const client = clientWith(mine, discovered);
    const { tokens } = await signInAndRedeem(server, client, user, { scope: 'openid profile offline_access', prompt: 'consent' });
    expect(tokens.refresh_token).toEqual(expect.any(String));

    const userinfo = (cert: Issued | undefined) =>
      fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}`, ...forwarded(cert) } });
    expect((await userinfo(mine)).status).toBe(200);
    expect((await userinfo(someoneElses)).status).toBe(401);
    expect((await userinfo(undefined)).status).toBe(401);

    // The refresh token is bound too: refused with another certificate or none, then accepted with the right one.
    for (const cert of [someoneElses, undefined]) {
      await expect(oidc.refreshTokenGrant(clientWith(cert, discovered), tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    }
    const refreshed = await oidc.refreshTokenGrant(client, tokens.refresh_token!);
    expect(refreshed.access_token).toEqual(expect.any(String));
    const refreshedUserinfo = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${refreshed.access_token}`, ...forwarded(someoneElses) } });
    expect(refreshedUserinfo.status).toBe(401);
  }, 60_000);
});
