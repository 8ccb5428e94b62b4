/**
 * FLOW-8 (RFC 8705) with a certificate hierarchy, as a service mesh with its own root and an
 * issuing intermediate has it: root → intermediate → workload certificate, made with openssl.
 * MTLS_CA_FILE holds root A alone, and intermediate B without its root. A forwarded chain
 * (XFCC `Chain=`) and a handshake chain both reach root A; a leaf alone is enough when its issuer
 * is in the bundle; every broken link is invalid_client, forwarded or in the handshake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApi, registerClient } from '../support/fixtures.js';
import { certificateDirectory, createAuthority, createIntermediate, issueCertificate, issueServerCertificate, type Authority, type Issued } from '../support/certificates.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { tokenRequest, type TlsIdentity } from '../support/tls-client.js';

const PROXY_ADDRESS = '127.0.0.2';
const XFCC = 'x-forwarded-client-cert';
const SPIFFE_ID = 'spiffe://cluster.local/ns/apps/sa/mesh';
const CLIENT = 'mesh-service';

let storage: TestStorage;
let server: TestServer;
let rootA: Authority;
let rootB: Authority;
const files = certificateDirectory();

/** A workload certificate for the registered SPIFFE ID, and the intermediate that issued it. */
function workload(intermediate: Authority): { leaf: Issued; intermediate: Authority } {
  return { leaf: issueCertificate(intermediate, { uris: [SPIFFE_ID] }), intermediate };
}

let underA: ReturnType<typeof workload>;
let underB: ReturnType<typeof workload>;

beforeAll(async () => {
  rootA = createAuthority('/CN=Mesh Root A');
  underA = workload(createIntermediate(rootA, { subject: '/CN=Mesh Intermediate A' }));
  rootB = createAuthority('/CN=Mesh Root B');
  underB = workload(createIntermediate(rootB, { subject: '/CN=Mesh Intermediate B' }));
  const serverCert = issueServerCertificate(rootA);
  const port = await freePort();
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage, {
    PORT: String(port),
    ISSUER: `https://127.0.0.1:${port}`,
    TLS_CERT_FILE: files.write('tls.crt', serverCert.certPem + rootA.certPem),
    TLS_KEY_FILE: files.write('tls.key', serverCert.keyPem),
    MTLS_PORT: String(await freePort()),
    MTLS_CA_FILE: files.write('clients-ca.crt', rootA.certPem + underB.intermediate.certPem),
    CLIENT_CERT_HEADER: XFCC,
    TRUSTED_PROXIES: `${PROXY_ADDRESS}/32`,
  });
  await registerApi(server);
  await registerClient(server, {
    client_id: CLIENT,
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_san_uri: SPIFFE_ID,
    grant_types: ['client_credentials'],
    scope: 'things:read',
    tls_client_certificate_bound_access_tokens: true,
  });
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
  files.dispose();
});

const fields = { grant_type: 'client_credentials', client_id: CLIENT, scope: 'things:read' };
const encoded = (...certs: Issued[]) => encodeURIComponent(certs.map((cert) => cert.certPem).join(''));

/** Envoy's XFCC as a sidecar sets it with `cert: true, chain: true`; the chain is leaf first. */
function viaEnvoy(leaf: Issued, chain?: Issued[]) {
  const header = `By=spiffe://cluster.local/ns/id/sa/gatehouse;Hash=1f;Cert="${encoded(leaf)}"${chain ? `;Chain="${encoded(leaf, ...chain)}"` : ''};URI=${SPIFFE_ID}`;
  return tokenRequest(`${server.issuer}/token`, { ca: rootA.certPem }, fields, { headers: { [XFCC]: header }, localAddress: PROXY_ADDRESS });
}

function viaNginx(leaf: Issued) {
  return tokenRequest(`${server.issuer}/token`, { ca: rootA.certPem }, fields, { headers: { [XFCC]: encoded(leaf) }, localAddress: PROXY_ADDRESS });
}

/** A client on MTLS_PORT sending `leaf` and, after it, `chain` in its Certificate message. */
function viaHandshake(leaf: Issued, chain: Issued[] = []) {
  const identity: TlsIdentity = { ca: rootA.certPem, cert: [leaf, ...chain].map((cert) => cert.certPem).join(''), key: leaf.keyPem };
  return tokenRequest(`${server.gatehouse.mtls!.url}/token`, identity, fields);
}

function expectAccepted(answer: { status: number; body: string }) {
  expect(answer.status, answer.body).toBe(200);
}

function expectRefused(answer: { status: number; body: string }) {
  expect(answer.status, answer.body).toBe(401);
  expect(JSON.parse(answer.body).error).toBe('invalid_client');
}

describe('FLOW-8 client certificates issued by an intermediate', () => {
  it('forwarded with its chain (XFCC Chain=), it reaches the root in MTLS_CA_FILE', async () => {
    expectAccepted(await viaEnvoy(underA.leaf, [underA.intermediate]));
    // The chain is what made it: without it the leaf has no issuer in the bundle.
    expectRefused(await viaEnvoy(underA.leaf));
  });

  it('forwarded alone (nginx, XFCC Cert=), it is accepted when MTLS_CA_FILE holds its intermediate', async () => {
    expectAccepted(await viaNginx(underB.leaf));
    expectAccepted(await viaEnvoy(underB.leaf));
  });

  it('sent with its intermediate in the handshake, it reaches the root in MTLS_CA_FILE', async () => {
    expectAccepted(await viaHandshake(underA.leaf, [underA.intermediate]));
    expectRefused(await viaHandshake(underA.leaf));
  });

  it('sent alone in the handshake, it is accepted when MTLS_CA_FILE holds its intermediate', async () => {
    expectAccepted(await viaHandshake(underB.leaf));
    // OpenSSL climbs on to the root the client sent along, which is not in the bundle.
    expectAccepted(await viaHandshake(underB.leaf, [underB.intermediate, rootB]));
    expectAccepted(await viaEnvoy(underB.leaf, [underB.intermediate, rootB]));
  });

  it('refuses a chain through a certificate that is not a CA (no basicConstraints CA:TRUE), both ways', async () => {
    const { leaf, intermediate } = workload(createIntermediate(rootA, { subject: '/CN=Not A CA', ca: false }));
    expectRefused(await viaEnvoy(leaf, [intermediate]));
    expectRefused(await viaHandshake(leaf, [intermediate]));
  });

  it('refuses a chain through an expired intermediate, both ways', async () => {
    const { leaf, intermediate } = workload(createIntermediate(rootA, { subject: '/CN=Expired Intermediate', days: -1 }));
    expectRefused(await viaEnvoy(leaf, [intermediate]));
    expectRefused(await viaHandshake(leaf, [intermediate]));
  });

  it('refuses a chain to a root that is not in MTLS_CA_FILE, even with that root sent along', async () => {
    const rootC = createAuthority('/CN=Mesh Root C');
    const { leaf, intermediate } = workload(createIntermediate(rootC, { subject: '/CN=Mesh Intermediate C' }));
    expectRefused(await viaEnvoy(leaf, [intermediate, rootC]));
    expectRefused(await viaHandshake(leaf, [intermediate, rootC]));
  });

  it('refuses a path longer than an intermediate allows (pathlen), both ways', async () => {
    const pathLengthZero = createIntermediate(rootA, { subject: '/CN=Issues Leaves Only', pathLength: 0 });
    const { leaf, intermediate } = workload(createIntermediate(pathLengthZero, { subject: '/CN=Below Issues Leaves Only' }));
    expectRefused(await viaEnvoy(leaf, [intermediate, pathLengthZero]));
    expectRefused(await viaHandshake(leaf, [intermediate, pathLengthZero]));
  });

  it("refuses a Chain= that does not start with the Cert= (a SAN smuggling in someone else's chain)", async () => {
    // The proxy checked possession of the key of Cert=; the chain names the registered client.
    const presented = issueCertificate(underA.intermediate, { uris: ['spiffe://cluster.local/ns/apps/sa/other'] });
    const header = `Hash=1f;Cert="${encoded(presented)}";URI=spiffe://x;Chain="${encoded(underA.leaf, underA.intermediate)}"`;
    expectRefused(await tokenRequest(`${server.issuer}/token`, { ca: rootA.certPem }, fields, { headers: { [XFCC]: header }, localAddress: PROXY_ADDRESS }));
  });
});
