/** NET-1 / NET-2: Gatehouse serving TLS itself, on real sockets with certificates made here. */
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, symlinkSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAnchors } from '../../src/tls/client-trust-anchors.js';
import { loadServerCertificate } from '../../src/tls/server-certificate.js';
import { certificateDirectory, createAuthority, issueCertificate, issueServerCertificate, type Authority, type Issued } from '../support/certificates.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';
import { httpsRequest } from '../support/tls-client.js';

let storage: TestStorage;
let server: TestServer;
let authority: Authority;
let files: ReturnType<typeof certificateDirectory>;
let version = 0;

/** Publishes a certificate the way Kubernetes does: `..data` is a symlink swapped atomically. */
function publish(certificate: Pick<Issued, 'certPem' | 'keyPem'>): void {
  version += 1;
  const dir = path.join(files.dir, `v${version}`);
  mkdirSync(dir);
  files.write(`v${version}/tls.crt`, certificate.certPem + authority.certPem);
  files.write(`v${version}/tls.key`, certificate.keyPem);
  symlinkSync(`v${version}`, path.join(files.dir, '..data_tmp'));
  renameSync(path.join(files.dir, '..data_tmp'), path.join(files.dir, '..data'));
}

function handshake(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: authority.certPem, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  authority = createAuthority();
  files = certificateDirectory();
  publish(issueServerCertificate(authority));
  symlinkSync('..data/tls.crt', path.join(files.dir, 'tls.crt'));
  symlinkSync('..data/tls.key', path.join(files.dir, 'tls.key'));
  storage = await createTestStorage('postgres');
  const [port, mtlsPort] = [await freePort(), await freePort()];
  server = await startTestServer(storage, {
    PORT: String(port),
    ISSUER: `https://127.0.0.1:${port}`,
    TLS_CERT_FILE: path.join(files.dir, 'tls.crt'),
    TLS_KEY_FILE: path.join(files.dir, 'tls.key'),
    TLS_RELOAD_INTERVAL: '1',
    // The mutual-TLS listener serves the same certificate under the same rules.
    MTLS_PORT: String(mtlsPort),
  });
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
  files?.dispose();
});

const port = () => Number(new URL(server.gatehouse.url).port);
const mtlsPort = () => server.config.mtls?.port ?? 0;
/** The serial number of the certificate a fresh handshake on `listener` is shown. */
async function servedSerial(listener: number): Promise<string> {
  const socket = await handshake(listener, {});
  const serial = socket.getPeerCertificate().serialNumber;
  socket.destroy();
  return serial;
}

describe('NET-1 TLS served by Gatehouse', () => {
  it('serves the issuer over https', async () => {
    expect(server.gatehouse.url).toMatch(/^https:/);
    const answer = await httpsRequest(`${server.issuer}/.well-known/openid-configuration`, { ca: authority.certPem });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).issuer).toBe(server.issuer);
  });

  it('refuses a client that offers only TLS 1.1 or 1.0 (the server answers with a protocol_version alert), on both listeners', async () => {
    for (const listener of [port(), mtlsPort()]) {
      for (const version of ['TLSv1.1', 'TLSv1'] as const) {
        // SECLEVEL=0 lets this client's OpenSSL really offer the old protocol.
        const attempt = handshake(listener, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
        await expect(attempt).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
      }
    }
  });

  it('accepts TLS 1.2 and TLS 1.3 and negotiates HTTP/1.1 by ALPN', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const socket = await handshake(port(), { minVersion: version, maxVersion: version, ALPNProtocols: ['h2', 'http/1.1'] });
      expect(socket.getProtocol()).toBe(version);
      expect(socket.alpnProtocol).toBe('http/1.1');
      socket.destroy();
    }
  });

  it('offers only forward-secret AEAD suites under TLS 1.2, on both listeners', async () => {
    for (const listener of [port(), mtlsPort()]) {
      await expect(handshake(listener, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-GCM-SHA384' })).rejects.toThrow();
      const socket = await handshake(listener, { maxVersion: 'TLSv1.2' });
      expect(socket.getCipher().name).toMatch(/^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20-POLY1305)/);
      socket.destroy();
    }
  });

  it('never asks for a client certificate on the main listener', async () => {
    const client = issueCertificate(authority, { subject: '/CN=would-be client' });
    const seen = new Promise<boolean>((resolve) =>
      server.gatehouse.server.once('secureConnection', (socket: tls.TLSSocket) => resolve(Boolean(socket.getPeerX509Certificate()))),
    );
    const answer = await httpsRequest(`${server.issuer}/healthz`, { ca: authority.certPem, cert: client.certPem, key: client.keyPem });
    expect(answer.status).toBe(200);
    // A client holding a certificate sends it only in answer to a CertificateRequest.
    expect(await seen).toBe(false);
  });
});

describe('NET-2 HSTS over https', () => {
  it('sends Strict-Transport-Security on every response, engine and host routes alike', async () => {
    // `/%00` is refused before the app's security-header step runs.
    for (const route of ['/.well-known/openid-configuration', '/jwks', '/healthz', '/no-such-page', '/account', '/%00']) {
      const answer = await httpsRequest(`${server.issuer}${route}`, { ca: authority.certPem });
      expect(answer.headers['strict-transport-security'], route).toBe('max-age=31536000; includeSubDomains');
    }
  });
});

describe('NET-1 certificate renewal without a restart', () => {
  it('gives new handshakes the renewed certificate (symlink swap) while requests under load keep succeeding and open connections stay', async () => {
    const initialSerial = (await httpsRequest(`${server.issuer}/healthz`, { ca: authority.certPem })).serverSerial;
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const before = await httpsRequest(`${server.issuer}/healthz`, { ca: authority.certPem }, { agent: keepAlive });
    const renewed = issueServerCertificate(authority);
    let running = true;
    const failures: unknown[] = [];
    const serials: string[] = [];
    const load = async () => {
      while (running) {
        try {
          const answer = await httpsRequest(`${server.issuer}/healthz`, { ca: authority.certPem });
          if (answer.status !== 200) failures.push(answer.status);
          serials.push(answer.serverSerial);
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const workers = [load(), load(), load()];
    await new Promise((resolve) => setTimeout(resolve, 300));
    publish(renewed);
    const deadline = Date.now() + 20_000;
    while (serials.at(-1) !== renewed.serialNumber && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(serials).toContain(initialSerial);
    expect(serials.at(-1)).toBe(renewed.serialNumber);
    // The connection opened before the renewal is still the same, still with the old certificate.
    const after = await httpsRequest(`${server.issuer}/healthz`, { ca: authority.certPem }, { agent: keepAlive });
    expect(after.status).toBe(200);
    expect(before.serverSerial).toBe(initialSerial);
    expect(after.serverSerial).toBe(initialSerial);
    keepAlive.destroy();
    expect(server.logs.join('')).toContain('TLS certificate reloaded');
    // The mutual-TLS listener's new handshakes get the renewed certificate too.
    expect(await servedSerial(mtlsPort())).toBe(renewed.serialNumber);
  }, 60_000);

  it('keeps the current certificate when the new files are broken, and logs why', async () => {
    const current = (await httpsRequest(`${server.issuer}/healthz`, { ca: authority.certPem })).serverSerial;
    const other = issueServerCertificate(authority);
    const stranger = issueServerCertificate(authority);
    publish({ certPem: other.certPem, keyPem: stranger.keyPem });
    // Wait until the watcher has looked at the broken pair (it says so), then check what is served.
    const complaintOf = () => server.logs.find((line) => line.includes('cannot be used; keeping the current certificate'));
    const deadline = Date.now() + 20_000;
    while (!complaintOf() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(complaintOf()).toMatch(/does not match the certificate/);
    expect((await httpsRequest(`${server.issuer}/healthz`, { ca: authority.certPem })).serverSerial).toBe(current);
  }, 60_000);
});

describe('NET-1 startup refuses a certificate it cannot serve', () => {
  it('names the problem in one line: mismatched key, unreadable file, not PEM', async () => {
    const scratch = certificateDirectory();
    try {
      const one = issueServerCertificate(authority);
      const two = issueServerCertificate(authority);
      const certFile = scratch.write('tls.crt', one.certPem);
      const wrongKey = scratch.write('wrong.key', two.keyPem);
      const garbage = scratch.write('garbage.key', 'not a key');
      expect(() => loadServerCertificate({ certFile, keyFile: wrongKey })).toThrow(`TLS_KEY_FILE ${wrongKey} does not match the certificate in TLS_CERT_FILE ${certFile}`);
      expect(() => loadServerCertificate({ certFile, keyFile: garbage })).toThrow(/^TLS_KEY_FILE .* does not hold an unencrypted PEM private key$/);
      expect(() => loadServerCertificate({ certFile: path.join(scratch.dir, 'missing.crt'), keyFile: wrongKey })).toThrow(/^TLS_CERT_FILE .*missing\.crt cannot be read \(ENOENT\)$/);
      expect(() => readAnchors(garbage)).toThrow(/^MTLS_CA_FILE .* holds no PEM certificate$/);
    } finally {
      scratch.dispose();
    }
  });

  it('exits before touching the database, with one line on stderr', async () => {
    const scratch = certificateDirectory();
    try {
      const one = issueServerCertificate(authority);
      const two = issueServerCertificate(authority);
      const env = {
        PATH: process.env['PATH'] ?? '',
        ISSUER: 'https://127.0.0.1:1',
        PORT: '1',
        TLS_CERT_FILE: scratch.write('tls.crt', one.certPem),
        TLS_KEY_FILE: scratch.write('tls.key', two.keyPem),
        GATEHOUSE_DATA_DIR: scratch.dir,
      };
      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(78);
      expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^gatehouse: TLS_KEY_FILE .* does not match the certificate in TLS_CERT_FILE /)]);
    } finally {
      scratch.dispose();
    }
  }, 60_000);
});

describe('NET-1 certificate renewal with WORKERS > 1', () => {
  it('every worker process picks up the renewed certificate', async () => {
    // The test before left a broken pair published; start from a good one.
    publish(issueServerCertificate(authority));
    const clusterStorage = await createTestStorage('postgres');
    const clusterPort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], {
      env: {
        PATH: process.env['PATH'] ?? '',
        ...clusterStorage.env,
        HOST: '127.0.0.1',
        PORT: String(clusterPort),
        ISSUER: `https://127.0.0.1:${clusterPort}`,
        WORKERS: '2',
        DB_POOL_MAX: '3',
        METRICS_PORT: 'off',
        LOG_LEVEL: 'warn',
        TLS_CERT_FILE: path.join(files.dir, 'tls.crt'),
        TLS_KEY_FILE: path.join(files.dir, 'tls.key'),
        TLS_RELOAD_INTERVAL: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const url = `https://127.0.0.1:${clusterPort}/readyz`;
    const serialsOfNewHandshakes = async (count: number) => {
      const serials: string[] = [];
      for (let i = 0; i < count; i += 1) serials.push((await httpsRequest(url, { ca: authority.certPem })).serverSerial);
      return serials;
    };
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const ready = await httpsRequest(url, { ca: authority.certPem }).then((answer) => answer.status === 200, () => false);
        // Both workers answer once two requests in a row succeed on fresh connections.
        if (ready && (await httpsRequest(url, { ca: authority.certPem }).then((answer) => answer.status === 200, () => false))) break;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cluster did not become ready: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const renewed = issueServerCertificate(authority);
      publish(renewed);
      const until = Date.now() + 30_000;
      let serials = await serialsOfNewHandshakes(10);
      while (serials.some((serial) => serial !== renewed.serialNumber) && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        serials = await serialsOfNewHandshakes(10);
      }
      expect(serials).toEqual(Array(10).fill(renewed.serialNumber));
    } finally {
      child.kill('SIGTERM');
      await exited;
      await clusterStorage.dispose();
    }
  }, 150_000);
});
