/**
 * FLOW-8 / NET-1: a rotated MTLS_CA_FILE reaches client authentication without a restart, on
 * real TLS sockets with CAs made here: in the mTLS listener's handshakes and in the check of
 * certificates forwarded by a trusted proxy; a broken bundle is logged and the anchors in use stay.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientMetadataInput } from '../../src/clients/schema.js';
import { registerApi, registerClient } from '../support/fixtures.js';
import { certificateDirectory, createAuthority, issueCertificate, issueServerCertificate, type Issued } from '../support/certificates.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { form, httpsRequest, tokenRequest, type HttpsAnswer } from '../support/tls-client.js';

const PROXY_ADDRESS = '127.0.0.2';
const XFCC = 'x-forwarded-client-cert';
const SERVICE = { subject: '/CN=billing', dns: ['billing.internal'] };
// Every poll before a reload is a refused client authentication; this file is not about that limit.
const FAILURES_ALLOWED = { RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_MINUTE: '100000' };
const COMPLAINT = 'MTLS_CA_FILE changed but cannot be used; keeping the current client trust anchors';

let storage: TestStorage;
let server: TestServer;
let files: ReturnType<typeof certificateDirectory>;
let version = 0;
const serverAuthority = createAuthority('/CN=Server CA');
/** One client CA per rotation step, and the service's certificate from each. */
const clientCa = (name: string) => {
  const authority = createAuthority(`/CN=Clients CA ${name}`);
  return { authority, cert: issueCertificate(authority, SERVICE) };
};
const cas = { old: clientCa('old'), next: clientCa('next'), later: clientCa('later'), proxy: clientCa('proxy') };

/** Publishes a CA bundle the way Kubernetes does: `..data` is a symlink swapped atomically. */
function publish(bundle: string): void {
  version += 1;
  mkdirSync(path.join(files.dir, `v${version}`));
  files.write(`v${version}/ca.crt`, bundle);
  symlinkSync(`v${version}`, path.join(files.dir, '..data_tmp'));
  renameSync(path.join(files.dir, '..data_tmp'), path.join(files.dir, '..data'));
}

const caFile = () => path.join(files.dir, 'clients-ca.crt');
const mtlsUrl = () => server.gatehouse.mtls!.url;
const BILLING = {
  client_id: 'billing',
  token_endpoint_auth_method: 'tls_client_auth',
  tls_client_auth_san_dns: 'billing.internal',
  grant_types: ['client_credentials'],
  scope: 'things:read',
  tls_client_certificate_bound_access_tokens: true,
} satisfies ClientMetadataInput;
const fields = form({ grant_type: 'client_credentials', client_id: 'billing', scope: 'things:read' });

function tokenOverMtls(cert: Issued, agent?: https.Agent, url = mtlsUrl()): Promise<HttpsAnswer> {
  return httpsRequest(`${url}/token`, { ca: serverAuthority.certPem, cert: cert.certPem, key: cert.keyPem }, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: fields,
    ...(agent ? { agent } : {}),
  });
}

function tokenForwarded(header: string): Promise<HttpsAnswer> {
  return tokenRequest(`${server.issuer}/token`, { ca: serverAuthority.certPem }, { grant_type: 'client_credentials', client_id: 'billing', scope: 'things:read' }, {
    headers: { [XFCC]: header },
    localAddress: PROXY_ADDRESS,
  });
}

/** Polls until `probe` answers `status` (the reload runs every second here), then returns that answer. */
async function until(status: number, probe: () => Promise<HttpsAnswer>): Promise<HttpsAnswer> {
  const deadline = Date.now() + 10_000;
  let answer = await probe();
  while (answer.status !== status && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    answer = await probe();
  }
  return answer;
}

const complaints = () => server.logs.filter((line) => line.includes(COMPLAINT));

beforeAll(async () => {
  files = certificateDirectory();
  const serverCert = issueServerCertificate(serverAuthority);
  publish(cas.old.authority.certPem);
  symlinkSync('..data/ca.crt', caFile());
  storage = await createTestStorage('postgres');
  const port = await freePort();
  server = await startTestServer(storage, {
    PORT: String(port),
    ISSUER: `https://127.0.0.1:${port}`,
    TLS_CERT_FILE: files.write('tls.crt', serverCert.certPem + serverAuthority.certPem),
    TLS_KEY_FILE: files.write('tls.key', serverCert.keyPem),
    TLS_RELOAD_INTERVAL: '1',
    MTLS_PORT: String(await freePort()),
    MTLS_CA_FILE: caFile(),
    CLIENT_CERT_HEADER: XFCC,
    TRUSTED_PROXIES: `${PROXY_ADDRESS}/32`,
    ...FAILURES_ALLOWED,
  });
  await registerApi(server);
  await registerClient(server, BILLING);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
  files?.dispose();
});

describe('FLOW-8 MTLS_CA_FILE rotation without a restart', () => {
  it('a CA added by rewriting the file in place: its certificate is refused before and gets a token after', async () => {
    expect((await tokenOverMtls(cas.old.cert)).status).toBe(200);
    expect((await tokenOverMtls(cas.next.cert)).status).toBe(401);
    writeFileSync(caFile(), cas.old.authority.certPem + cas.next.authority.certPem);
    const answer = await until(200, () => tokenOverMtls(cas.next.cert));
    expect(answer.status, answer.body).toBe(200);
    expect(JSON.parse(answer.body).token_type).toBe('Bearer');
    // The operator added a CA: certificates from the old one still work.
    expect((await tokenOverMtls(cas.old.cert)).status).toBe(200);
    expect(server.logs.some((line) => line.includes('MTLS_CA_FILE reloaded'))).toBe(true);
  });

  it('a symlink swap to a bundle without the old CA: the new CA is accepted, the old refused, open connections carry on', async () => {
    expect((await tokenOverMtls(cas.later.cert)).status).toBe(401);
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await tokenOverMtls(cas.old.cert, keepAlive)).status).toBe(200);
    let handshakes = 0;
    const countHandshake = () => (handshakes += 1);
    server.gatehouse.mtls!.server.on('secureConnection', countHandshake);
    publish(cas.later.authority.certPem);
    const answer = await until(200, () => tokenOverMtls(cas.later.cert));
    expect(answer.status, answer.body).toBe(200);
    expect((await tokenOverMtls(cas.old.cert)).status).toBe(401);
    expect((await tokenOverMtls(cas.next.cert)).status).toBe(401);
    // The connection authenticated before the swap is not cut: it is still served, without a new handshake.
    const before = handshakes;
    expect((await tokenOverMtls(cas.old.cert, keepAlive)).status).toBe(200);
    expect(handshakes).toBe(before);
    server.gatehouse.mtls!.server.off('secureConnection', countHandshake);
    keepAlive.destroy();
  });

  it('an empty or broken bundle is logged (one JSON line, no certificate content) and the anchors in use stay', async () => {
    expect((await tokenOverMtls(cas.later.cert)).status).toBe(200);
    const truncated = cas.next.authority.certPem.replace(/\n[A-Za-z0-9+/=]+\n-----END/, '\n-----END');
    for (const [bundle, reason] of [['', /holds no PEM certificate/], [truncated, /cannot be parsed/]] as const) {
      const seen = complaints().length;
      publish(bundle);
      const deadline = Date.now() + 10_000;
      while (complaints().length === seen && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const lines = complaints().slice(seen);
      expect(lines).toHaveLength(1);
      const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
      expect(entry['reason']).toMatch(reason);
      expect(entry['reason']).toContain(caFile());
      expect(lines[0]).not.toContain('BEGIN CERTIFICATE');
      expect((await tokenOverMtls(cas.later.cert)).status).toBe(200);
      expect((await tokenOverMtls(cas.next.cert)).status).toBe(401);
    }
  });

  it('certificates forwarded by a trusted proxy are checked against the new anchors too', async () => {
    const header = (cert: Issued) => `Hash=1f;Cert="${encodeURIComponent(cert.certPem)}";DNS=billing.internal`;
    expect((await tokenForwarded(header(cas.later.cert))).status).toBe(200);
    // The same header, refused now, must not be remembered as refused once its CA is trusted.
    expect((await tokenForwarded(header(cas.proxy.cert))).status).toBe(401);
    publish(cas.proxy.authority.certPem);
    const answer = await until(200, () => tokenForwarded(header(cas.proxy.cert)));
    expect(answer.status, answer.body).toBe(200);
    expect((await tokenForwarded(header(cas.later.cert))).status).toBe(401);
  });
});

describe('FLOW-8 MTLS_CA_FILE rotation with WORKERS > 1', () => {
  it('every worker process verifies new handshakes against the rotated CA', async () => {
    publish(cas.old.authority.certPem);
    const clusterStorage = await createTestStorage('postgres');
    // The client is registered in-process on the cluster's database before the cluster starts.
    const registrar = await startTestServer(clusterStorage, { MTLS_CA_FILE: caFile(), CLIENT_CERT_HEADER: XFCC, TRUSTED_PROXIES: `${PROXY_ADDRESS}/32` });
    await registerApi(registrar);
    await registerClient(registrar, BILLING);
    await registrar.stop();
    const [port, mtlsPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], {
      env: {
        PATH: process.env['PATH'] ?? '',
        ...clusterStorage.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        ISSUER: `https://127.0.0.1:${port}`,
        WORKERS: '2',
        DB_POOL_MAX: '3',
        METRICS_PORT: 'off',
        LOG_LEVEL: 'warn',
        TLS_CERT_FILE: path.join(files.dir, 'tls.crt'),
        TLS_KEY_FILE: path.join(files.dir, 'tls.key'),
        TLS_RELOAD_INTERVAL: '1',
        MTLS_PORT: String(mtlsPort),
        MTLS_CA_FILE: caFile(),
        ...FAILURES_ALLOWED,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const mtls = `https://127.0.0.1:${mtlsPort}`;
    // Fresh connections, which the cluster primary hands to the workers in turn.
    const statuses = async (cert: Issued, count = 10) => {
      const seen: number[] = [];
      for (let i = 0; i < count; i += 1) seen.push((await tokenOverMtls(cert, undefined, mtls).catch(() => ({ status: 0 }))).status);
      return seen;
    };
    try {
      const deadline = Date.now() + 60_000;
      while ((await statuses(cas.old.cert, 2)).some((status) => status !== 200)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cluster did not become ready: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(await statuses(cas.next.cert)).toEqual(Array(10).fill(401));
      publish(cas.next.authority.certPem);
      const until = Date.now() + 20_000;
      let accepted = await statuses(cas.next.cert);
      while (accepted.some((status) => status !== 200) && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        accepted = await statuses(cas.next.cert);
      }
      expect(accepted).toEqual(Array(10).fill(200));
      expect(await statuses(cas.old.cert)).toEqual(Array(10).fill(401));
    } finally {
      child.kill('SIGTERM');
      await exited;
      await clusterStorage.dispose();
    }
  }, 120_000);
});
