/**
 * FLOW-8 (RFC 8705): mutual-TLS client authentication and certificate-bound tokens, on real
 * TLS sockets with certificates made by the test: both methods, every subject kind, cnf in the
 * JWT and at introspection, the ways a certificate can be wrong, and certificates forwarded by
 * a trusted proxy.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, REDIRECT_URI, registerApi, registerClient, registerServiceClient } from '../support/fixtures.js';
import { certificateDirectory, createAuthority, issueCertificate, issueServerCertificate, selfSignedCertificate, type Authority, type Issued } from '../support/certificates.js';
import { createTestStorage, freePort, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';
import { fetchWith, form, httpsRequest, tokenRequest, type TlsIdentity } from '../support/tls-client.js';

const PROXY_ADDRESS = '127.0.0.2';
const XFCC = 'x-forwarded-client-cert';

interface Fixture {
  server: TestServer;
  storage: TestStorage;
  files: ReturnType<typeof certificateDirectory>;
  authority: Authority;
  mtlsUrl: string;
  certs: Record<string, Issued>;
  selfSigned: Issued & { jwk: Record<string, unknown> };
  expiredSelfSigned: Issued & { jwk: Record<string, unknown> };
  resourceServer: { clientId: string; secret: string };
}

const SUBJECTS = {
  'svc-dn': { metadata: { tls_client_auth_subject_dn: 'CN=svc-dn,O=Gatehouse Tests' }, cert: { subject: '/O=Gatehouse Tests/CN=svc-dn' } },
  'svc-dns': { metadata: { tls_client_auth_san_dns: 'svc-dns.internal' }, cert: { subject: '/CN=anything', dns: ['svc-dns.internal'] } },
  'svc-uri': { metadata: { tls_client_auth_san_uri: 'spiffe://cluster.local/ns/apps/sa/svc-uri' }, cert: { uris: ['spiffe://cluster.local/ns/apps/sa/svc-uri'] } },
  'svc-ip': { metadata: { tls_client_auth_san_ip: '10.20.30.40' }, cert: { ips: ['10.20.30.40'] } },
  'svc-email': { metadata: { tls_client_auth_san_email: 'svc@example.com' }, cert: { emails: ['svc@example.com'] } },
} as const;

async function setUp(kind: DatabaseChoice): Promise<Fixture> {
  const authority = createAuthority();
  const files = certificateDirectory();
  const serverCert = issueServerCertificate(authority);
  const port = await freePort();
  const mtlsPort = await freePort();
  const storage = await createTestStorage(kind);
  const server = await startTestServer(storage, {
    PORT: String(port),
    ISSUER: `https://127.0.0.1:${port}`,
    TLS_CERT_FILE: files.write('tls.crt', serverCert.certPem + authority.certPem),
    TLS_KEY_FILE: files.write('tls.key', serverCert.keyPem),
    MTLS_PORT: String(mtlsPort),
    MTLS_CA_FILE: files.write('clients-ca.crt', authority.certPem),
    CLIENT_CERT_HEADER: XFCC,
    TRUSTED_PROXIES: `${PROXY_ADDRESS}/32`,
    // The main port may sit behind a proxy; the mTLS port never does.
    TRUST_PROXY: 'true',
  });
  await registerApi(server);
  const certs: Record<string, Issued> = {};
  for (const [clientId, { metadata, cert }] of Object.entries(SUBJECTS)) {
    certs[clientId] = issueCertificate(authority, cert);
    await registerClient(server, {
      client_id: clientId,
      token_endpoint_auth_method: 'tls_client_auth',
      grant_types: ['client_credentials'],
      scope: 'things:read',
      tls_client_certificate_bound_access_tokens: true,
      ...metadata,
    });
  }
  const selfSigned = selfSignedCertificate('/CN=svc-self');
  const expiredSelfSigned = selfSignedCertificate('/CN=svc-self-expired', -1);
  for (const [clientId, cert] of [['svc-self', selfSigned], ['svc-self-expired', expiredSelfSigned]] as const) {
    await registerClient(server, {
      client_id: clientId,
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      grant_types: ['client_credentials'],
      scope: 'things:read',
      tls_client_certificate_bound_access_tokens: true,
      jwks: { keys: [cert.jwk] },
    });
  }
  const resourceServer = await registerServiceClient(server, 'resource-server', 'things:read', { introspect_any_token: true });
  return { server, storage, files, authority, mtlsUrl: server.gatehouse.mtls!.url, certs, selfSigned, expiredSelfSigned, resourceServer };
}

const ccFields = (clientId: string, extra: Record<string, string> = {}) => ({ grant_type: 'client_credentials', client_id: clientId, scope: 'things:read', ...extra });

describe.each<DatabaseChoice>(['postgres', 'embedded'])('FLOW-8 mutual TLS (%s)', (kind) => {
  let f: Fixture;
  const ca = () => ({ ca: f.authority.certPem });
  const as = (cert: Issued): TlsIdentity => ({ ca: f.authority.certPem, cert: cert.certPem, key: cert.keyPem });

  beforeAll(async () => {
    f = await setUp(kind);
  });

  afterAll(async () => {
    await f?.server.stop();
    await f?.storage.dispose();
    f?.files.dispose();
  });

  async function verifiedClaims(accessToken: string) {
    const jwks = JSON.parse((await httpsRequest(`${f.server.issuer}/jwks`, ca())).body) as JSONWebKeySet;
    const { payload } = await jwtVerify(accessToken, createLocalJWKSet(jwks), { issuer: f.server.issuer, audience: API, algorithms: ['ES256'], typ: 'at+jwt' });
    return payload;
  }

  async function introspect(token: string) {
    const answer = await httpsRequest(`${f.server.issuer}/token/introspection`, ca(), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${f.resourceServer.clientId}:${f.resourceServer.secret}`).toString('base64')}`,
      },
      body: form({ token }),
    });
    expect(answer.status).toBe(200);
    return JSON.parse(answer.body) as Record<string, unknown>;
  }

  function expectInvalidClient(answer: { status: number; body: string }) {
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error).toBe('invalid_client');
  }

  it('advertises both methods, bound tokens and the mTLS endpoint aliases in discovery', async () => {
    const metadata = JSON.parse((await httpsRequest(`${f.server.issuer}/.well-known/openid-configuration`, ca())).body) as Record<string, unknown>;
    expect(metadata['token_endpoint_auth_methods_supported']).toEqual(expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth']));
    expect(metadata['tls_client_certificate_bound_access_tokens']).toBe(true);
    expect(metadata['mtls_endpoint_aliases']).toMatchObject({
      token_endpoint: `${f.mtlsUrl}/token`,
      introspection_endpoint: `${f.mtlsUrl}/token/introspection`,
      revocation_endpoint: `${f.mtlsUrl}/token/revocation`,
      userinfo_endpoint: `${f.mtlsUrl}/me`,
      pushed_authorization_request_endpoint: `${f.mtlsUrl}/request`,
    });
  });

  it('serves introspection, revocation, userinfo and PAR on the mTLS listener, authenticating by certificate', async () => {
    const identity = as(f.certs['svc-dns']!);
    const token = JSON.parse((await tokenRequest(`${f.mtlsUrl}/token`, identity, ccFields('svc-dns'))).body).access_token as string;
    const call = (path: string, fields: Record<string, string>) => tokenRequest(`${f.mtlsUrl}${path}`, identity, fields);
    const introspected = await call('/token/introspection', { client_id: 'svc-dns', token });
    expect(introspected.status, introspected.body).toBe(200);
    expect(JSON.parse(introspected.body)).toMatchObject({ active: true, cnf: { 'x5t#S256': f.certs['svc-dns']!.thumbprint } });
    // The engine's userinfo, reached (not this port's 404): a client's own token names no user.
    const userinfo = await httpsRequest(`${f.mtlsUrl}/me`, identity, { headers: { authorization: `Bearer ${token}` } });
    expect(userinfo.status).toBe(401);
    expect(userinfo.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    expect((await call('/token/revocation', { client_id: 'svc-dns', token })).status).toBe(200);
    expect(JSON.parse((await call('/token/introspection', { client_id: 'svc-dns', token })).body)).toEqual({ active: false });
    // Without its certificate the same revocation call is refused.
    expectInvalidClient(await tokenRequest(`${f.mtlsUrl}/token/revocation`, ca(), { client_id: 'svc-dns', token }));

    await registerClient(f.server, {
      client_id: 'svc-par',
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_san_dns: 'svc-dns.internal',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      scope: 'openid',
    });
    const par = { client_id: 'svc-par', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
    const pushed = await call('/request', par);
    expect(pushed.status, pushed.body).toBe(201);
    expect(JSON.parse(pushed.body).request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expectInvalidClient(await tokenRequest(`${f.mtlsUrl}/request`, ca(), par));
  });

  it('openid-client gets a certificate-bound token with tls_client_auth through the advertised alias', async () => {
    const identity = as(f.certs['svc-dn']!);
    const client = await oidc.discovery(new URL(f.server.issuer), 'svc-dn', { use_mtls_endpoint_aliases: true }, oidc.TlsClientAuth(), {
      [oidc.customFetch]: fetchWith(identity),
    });
    client[oidc.customFetch] = fetchWith(identity);
    const tokens = await oidc.clientCredentialsGrant(client, { scope: 'things:read', resource: API });
    const claims = await verifiedClaims(tokens.access_token);
    expect(claims['client_id']).toBe('svc-dn');
    expect(claims['cnf']).toEqual({ 'x5t#S256': f.certs['svc-dn']!.thumbprint });
  });

  it.each(Object.keys(SUBJECTS))('tls_client_auth by registered subject: %s', async (clientId) => {
    const answer = await tokenRequest(`${f.mtlsUrl}/token`, as(f.certs[clientId]!), ccFields(clientId, { resource: API }));
    expect(answer.status, answer.body).toBe(200);
    const claims = await verifiedClaims(JSON.parse(answer.body).access_token);
    expect(claims['cnf']).toEqual({ 'x5t#S256': f.certs[clientId]!.thumbprint });
  });

  it('self_signed_tls_client_auth with the certificate registered in the client jwks', async () => {
    const answer = await tokenRequest(`${f.mtlsUrl}/token`, as(f.selfSigned), ccFields('svc-self', { resource: API }));
    expect(answer.status, answer.body).toBe(200);
    const claims = await verifiedClaims(JSON.parse(answer.body).access_token);
    expect(claims['cnf']).toEqual({ 'x5t#S256': f.selfSigned.thumbprint });
  });

  it('believes no forwarded address on the mTLS port, even with TRUST_PROXY (clients reach it directly)', async () => {
    const answer = await tokenRequest(`${f.mtlsUrl}/token`, as(f.selfSigned), ccFields('svc-self', { resource: API }), { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(answer.status, answer.body).toBe(200);
    const requestLines = f.server.logs.filter((line) => line.includes('"path":"/token"') && line.includes('"status":200'));
    expect(requestLines.at(-1)).toContain('"ip":"127.0.0.1"');
    expect(f.server.logs.join('')).not.toContain('203.0.113.9');
  });

  it('introspection shows cnf.x5t#S256 (the base64url SHA-256 of the certificate DER) for JWT and opaque tokens', async () => {
    const jwt = JSON.parse((await tokenRequest(`${f.mtlsUrl}/token`, as(f.certs['svc-ip']!), ccFields('svc-ip', { resource: API }))).body).access_token as string;
    const opaque = JSON.parse((await tokenRequest(`${f.mtlsUrl}/token`, as(f.selfSigned), ccFields('svc-self'))).body).access_token as string;
    expect(opaque.split('.')).toHaveLength(1);
    expect(await introspect(jwt)).toMatchObject({ active: true, client_id: 'svc-ip', cnf: { 'x5t#S256': f.certs['svc-ip']!.thumbprint } });
    expect(await introspect(opaque)).toMatchObject({ active: true, client_id: 'svc-self', cnf: { 'x5t#S256': f.selfSigned.thumbprint } });
  });

  describe('a certificate that does not authenticate the client is invalid_client (401), never a 5xx', () => {
    it('no certificate at the mTLS listener', async () => {
      expectInvalidClient(await tokenRequest(`${f.mtlsUrl}/token`, ca(), ccFields('svc-dn')));
    });

    it('the main listener, which never asks for one', async () => {
      expectInvalidClient(await tokenRequest(`${f.server.issuer}/token`, as(f.certs['svc-dn']!), ccFields('svc-dn')));
    });

    it("another client's certificate (subject mismatch)", async () => {
      expectInvalidClient(await tokenRequest(`${f.mtlsUrl}/token`, as(f.certs['svc-dn']!), ccFields('svc-dns')));
      expectInvalidClient(await tokenRequest(`${f.mtlsUrl}/token`, as(f.certs['svc-uri']!), ccFields('svc-ip')));
    });

    it('the right subject from a CA outside MTLS_CA_FILE (untrusted chain)', async () => {
      const impostor = issueCertificate(createAuthority('/CN=Impostor CA'), SUBJECTS['svc-dn'].cert);
      expectInvalidClient(await tokenRequest(`${f.mtlsUrl}/token`, as(impostor), ccFields('svc-dn')));
    });

    it('an expired certificate, CA-issued or self-signed and registered', async () => {
      const expired = issueCertificate(f.authority, { ...SUBJECTS['svc-dn'].cert, days: -1 });
      expectInvalidClient(await tokenRequest(`${f.mtlsUrl}/token`, as(expired), ccFields('svc-dn')));
      expectInvalidClient(await tokenRequest(`${f.mtlsUrl}/token`, as(f.expiredSelfSigned), ccFields('svc-self-expired')));
    });

    it('a self-signed certificate the client did not register', async () => {
      expectInvalidClient(await tokenRequest(`${f.mtlsUrl}/token`, as(selfSignedCertificate('/CN=svc-self')), ccFields('svc-self')));
    });
  });

  it('the mTLS listener serves only the token-style endpoints', async () => {
    const discovery = await httpsRequest(`${f.mtlsUrl}/.well-known/openid-configuration`, ca());
    expect(discovery.status).toBe(404);
    expect(discovery.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect((await httpsRequest(`${f.mtlsUrl}/interaction/x`, ca())).status).toBe(404);
  });

  describe('certificates forwarded by a proxy (CLIENT_CERT_HEADER from TRUSTED_PROXIES)', () => {
    const pemOf = (clientId: string) => f.certs[clientId]!.certPem;

    it("accepts Envoy/Istio's x-forwarded-client-cert from a trusted proxy and binds the token to it", async () => {
      const header = `By=spiffe://cluster.local/ns/id/sa/gatehouse;Hash=abc;Cert="${encodeURIComponent(pemOf('svc-uri'))}";Subject="CN=anything";URI=spiffe://cluster.local/ns/apps/sa/svc-uri`;
      const answer = await tokenRequest(`${f.server.issuer}/token`, ca(), ccFields('svc-uri', { resource: API }), { headers: { [XFCC]: header }, localAddress: PROXY_ADDRESS });
      expect(answer.status, answer.body).toBe(200);
      expect((await verifiedClaims(JSON.parse(answer.body).access_token))['cnf']).toEqual({ 'x5t#S256': f.certs['svc-uri']!.thumbprint });
    });

    it("accepts nginx's URL-encoded PEM from a trusted proxy", async () => {
      const answer = await tokenRequest(`${f.server.issuer}/token`, ca(), ccFields('svc-email'), { headers: { [XFCC]: encodeURIComponent(pemOf('svc-email')) }, localAddress: PROXY_ADDRESS });
      expect(answer.status, answer.body).toBe(200);
    });

    it('still verifies the forwarded chain and validity itself', async () => {
      const impostor = issueCertificate(createAuthority('/CN=Impostor CA'), SUBJECTS['svc-dn'].cert);
      const expired = issueCertificate(f.authority, { ...SUBJECTS['svc-dn'].cert, days: -1 });
      // Issued by the right CA, but for servers only: the handshake would refuse it as a client's too.
      const serverOnly = issueCertificate(f.authority, { ...SUBJECTS['svc-dn'].cert, usage: 'server' });
      for (const cert of [impostor, expired, serverOnly]) {
        expectInvalidClient(await tokenRequest(`${f.server.issuer}/token`, ca(), ccFields('svc-dn'), { headers: { [XFCC]: encodeURIComponent(cert.certPem) }, localAddress: PROXY_ADDRESS }));
      }
    });

    it('ignores the header from any other peer, and logs it', async () => {
      const answer = await tokenRequest(`${f.server.issuer}/token`, ca(), ccFields('svc-email'), { headers: { [XFCC]: encodeURIComponent(pemOf('svc-email')) } });
      expectInvalidClient(answer);
      expect(f.server.logs.some((line) => line.includes('client certificate header from a peer not in TRUSTED_PROXIES ignored') && line.includes('"peer":"127.0.0.1"'))).toBe(true);
    });
  });
});
