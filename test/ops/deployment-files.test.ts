/** NET-5: the deployment files publish only the edge; the database is reachable from the application alone. */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { clientMetadataSchema } from '../../src/clients/schema.js';
import { certificateSubjectMatches } from '../../src/tls/client-certificates.js';

interface Service {
  ports?: string[];
  networks?: string[];
  environment?: Record<string, string>;
  command?: string[];
  entrypoint?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service>; networks: Record<string, { internal?: boolean } | null> };

describe('NET-5 deployment files', () => {
  it('publishes ports only on the TLS proxy', () => {
    const published = Object.entries(compose.services).filter(([, service]) => service.ports?.length);
    expect(published.map(([name]) => name)).toEqual(['proxy']);
  });

  it('keeps PostgreSQL on an internal network that only Gatehouse joins', () => {
    const database = compose.services['postgres'];
    expect(database?.networks).toEqual(['data']);
    expect(compose.networks['data']?.internal).toBe(true);
    const onData = Object.entries(compose.services).filter(([, service]) => service.networks?.includes('data')).map(([name]) => name);
    expect(onData.sort()).toEqual(['gatehouse-1', 'gatehouse-2', 'postgres']);
  });

  it('runs two replicas behind the proxy with a shared secret and proxy trust', () => {
    for (const name of ['gatehouse-1', 'gatehouse-2']) {
      const service = compose.services[name];
      expect(service?.networks).not.toContain('edge');
      expect(service?.environment?.['TRUST_PROXY']).toBe('true');
      expect(service?.environment?.['GATEHOUSE_SECRET']).toContain('GATEHOUSE_SECRET');
      // The proxy reaches them on the app network: every interface, said explicitly.
      expect(service?.environment?.['HOST']).toBe('0.0.0.0');
    }
    expect(compose.networks['app']?.internal).toBe(true);
  });

  it('listens on every interface inside the container image (only published ports are reachable)', () => {
    expect(readFileSync('Dockerfile', 'utf8')).toMatch(/^ENV HOST=0\.0\.0\.0$/m);
  });
});

describe('FLOW-8 / NET-1 mutual-TLS example (docker-compose.mtls.yml)', () => {
  const mtls = parse(readFileSync('docker-compose.mtls.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> };

  it('makes certificates first, then serves TLS and mTLS from them, then registers, then calls with curl --cert', () => {
    const { certs, gatehouse, register, billing } = mtls.services;
    expect(certs?.entrypoint?.join(' ')).toContain('make-certs.sh');
    expect(gatehouse?.depends_on?.['certs']?.condition).toBe('service_completed_successfully');
    expect(gatehouse?.environment).toMatchObject({
      ISSUER: expect.stringMatching(/^https:/),
      TLS_CERT_FILE: '/certs/server.crt',
      TLS_KEY_FILE: '/certs/server.key',
      MTLS_PORT: '9443',
      MTLS_CA_FILE: '/certs/ca.crt',
    });
    expect(gatehouse?.environment?.['TRUST_PROXY']).toBeUndefined();
    expect(register?.entrypoint?.join(' ')).toContain('clients import /config/clients.json');
    expect(billing?.depends_on?.['register']?.condition).toBe('service_completed_successfully');
    const curl = billing?.command ?? [];
    expect(curl[curl.indexOf('--cert') + 1]).toBe('/certs/client.crt');
    expect(curl.at(-1)).toBe('https://gatehouse:9443/token');
  });

  it('registers a client the example certificate authenticates', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-mtls-example-'));
    try {
      execFileSync('sh', ['config/mtls/make-certs.sh', out], { stdio: 'ignore' });
      const [client] = (JSON.parse(readFileSync('config/mtls/clients.json', 'utf8')) as unknown[]).map((entry) => clientMetadataSchema.parse(entry));
      const ca = new X509Certificate(readFileSync(path.join(out, 'ca.crt')));
      const certificate = new X509Certificate(readFileSync(path.join(out, 'client.crt')));
      expect(certificate.verify(ca.publicKey)).toBe(true);
      expect(client?.token_endpoint_auth_method).toBe('tls_client_auth');
      expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_dns', client?.tls_client_auth_san_dns ?? '')).toBe(true);
      const server = new X509Certificate(readFileSync(path.join(out, 'server.crt')));
      expect(server.subjectAltName).toContain('DNS:gatehouse');
      expect(server.checkPrivateKey(createPrivateKey(readFileSync(path.join(out, 'server.key'))))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
