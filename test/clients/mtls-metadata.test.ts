/**
 * FLOW-8 / API-3: RFC 8705 client metadata through the operator's doors — the schema, the admin
 * API and `gatehouse clients import` — checked before anything is written; unknown fields are
 * still refused by name.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_API } from '../../src/admin/admin-api.js';
import { registerClients } from '../../src/clients/register.js';
import { clientMetadataSchema } from '../../src/clients/schema.js';
import { certificateDirectory, createAuthority, selfSignedCertificate } from '../support/certificates.js';
import { registerApi } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

const base = { grant_types: ['client_credentials'] as ['client_credentials'], scope: 'things:read' };
const issuesOf = (input: unknown) => {
  const parsed = clientMetadataSchema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('FLOW-8 client metadata schema', () => {
  it.each([
    ['tls_client_auth_subject_dn', 'CN=svc,O=Example'],
    ['tls_client_auth_san_dns', 'svc.internal'],
    ['tls_client_auth_san_uri', 'spiffe://cluster.local/ns/a/sa/svc'],
    ['tls_client_auth_san_ip', '10.0.0.7'],
    ['tls_client_auth_san_email', 'svc@example.com'],
  ])('accepts tls_client_auth with %s', (field, value) => {
    expect(issuesOf({ client_id: 'svc', ...base, token_endpoint_auth_method: 'tls_client_auth', [field]: value, tls_client_certificate_bound_access_tokens: true })).toEqual([]);
  });

  it('refuses tls_client_auth with no subject value, or with two', () => {
    expect(issuesOf({ client_id: 'svc', ...base, token_endpoint_auth_method: 'tls_client_auth' })).toEqual([expect.stringContaining('tls_client_auth needs exactly one of')]);
    expect(issuesOf({ client_id: 'svc', ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'a.example', tls_client_auth_san_ip: '10.0.0.1' })).toEqual([
      expect.stringContaining('tls_client_auth needs exactly one of'),
    ]);
  });

  it('refuses a subject value for another method, a secret for a certificate client, a self-signed client without keys, and bad values', () => {
    expect(issuesOf({ client_id: 'svc', ...base, tls_client_auth_san_dns: 'a.example' })[0]).toMatch(/only for token_endpoint_auth_method "tls_client_auth"/);
    expect(issuesOf({ client_id: 'svc', ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'a.example', client_secret: 'x'.repeat(40) })[0]).toMatch(/has no client_secret/);
    expect(issuesOf({ client_id: 'svc', ...base, token_endpoint_auth_method: 'self_signed_tls_client_auth' })[0]).toMatch(/needs jwks/);
    expect(issuesOf({ client_id: 'svc', ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_ip: 'not-an-ip' })[0]).toMatch(/IPv4 or IPv6/);
    expect(issuesOf({ client_id: 'svc', ...base, tls_client_certificate_bound_access_tokens: 'yes' })[0]).toMatch(/tls_client_certificate_bound_access_tokens/);
  });

  it('still refuses unknown fields by name', () => {
    expect(issuesOf({ client_id: 'svc', ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'a', tls_client_auth_san_foo: 'x' }).join()).toMatch(/tls_client_auth_san_foo/);
  });
});

describe('FLOW-8 registering mTLS clients', () => {
  let storage: TestStorage;
  let server: TestServer;
  const files = certificateDirectory();
  let mtlsEnv: Record<string, string>;

  beforeAll(async () => {
    const authority = createAuthority();
    // Forwarded-certificate mode alone turns mutual TLS on; no TLS listener is needed for it.
    mtlsEnv = { CLIENT_CERT_HEADER: 'x-forwarded-client-cert', TRUSTED_PROXIES: '10.0.0.0/8', MTLS_CA_FILE: files.write('ca.crt', authority.certPem) };
    storage = await createTestStorage('postgres');
    server = await startTestServer(storage, mtlsEnv);
    await registerApi(server);
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
    files.dispose();
  });

  it('the admin API accepts tls_client_auth and self_signed_tls_client_auth clients', async () => {
    const secret = randomBytes(32).toString('base64url');
    await registerClients([{ client_id: 'ops', client_secret: secret, grant_types: ['client_credentials'], scope: 'admin:read admin:write' }], server.gatehouse.live.current, server.gatehouse.services.clients);
    const config = await oidc.discovery(new URL(server.issuer), 'ops', undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
    const token = (await oidc.clientCredentialsGrant(config, { resource: ADMIN_API, scope: 'admin:read admin:write' })).access_token;
    const put = (id: string, body: unknown) =>
      fetch(`${server.issuer}/admin/v1/clients/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const pki = await put('svc-pki', { ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=svc-pki', tls_client_certificate_bound_access_tokens: true });
    expect(pki.status, await pki.clone().text()).toBe(201);
    expect(await pki.json()).not.toHaveProperty('generatedSecret');
    const self = await put('svc-self', { ...base, token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [selfSignedCertificate().jwk] } });
    expect(self.status).toBe(201);
    const refused = await put('svc-bad', { ...base, token_endpoint_auth_method: 'tls_client_auth' });
    expect(refused.status).toBe(400);
    expect(await server.gatehouse.services.clients.metadata('svc-bad')).toBeUndefined();
    expect(await server.gatehouse.services.clients.metadata('svc-pki')).toMatchObject({ tls_client_auth_subject_dn: 'CN=svc-pki', tls_client_certificate_bound_access_tokens: true });
  });

  function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli/main.ts'), ...args], {
        env: { PATH: process.env['PATH'] ?? '', ...storage.env, ISSUER: server.issuer, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
  }

  it('`gatehouse clients import` registers them, and refuses the whole file over one bad entry', async () => {
    const good = { client_id: 'svc-import', ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_uri: 'spiffe://cluster.local/ns/a/sa/import' };
    const bad = { client_id: 'svc-import-2', ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_uri: 'spiffe://x/y', tls_client_auth_san_dns: 'y.example' };
    const refused = await cli(['clients', 'import', files.write('bad.json', JSON.stringify([good, bad]))], mtlsEnv);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/\[1\].*tls_client_auth needs exactly one of/);
    expect(await server.gatehouse.services.clients.metadata('svc-import')).toBeUndefined();
    const imported = await cli(['clients', 'import', files.write('good.json', JSON.stringify([good]))], mtlsEnv);
    expect(imported, imported.output).toMatchObject({ code: 0 });
    expect(await server.gatehouse.services.clients.metadata('svc-import')).toMatchObject({ token_endpoint_auth_method: 'tls_client_auth' });
  }, 120_000);

  it('refuses a certificate client where mutual TLS is not configured (it could never authenticate)', async () => {
    const client = { client_id: 'svc-nowhere', ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'a.example' };
    const refused = await cli(['clients', 'import', files.write('nowhere.json', JSON.stringify([client]))], {});
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/token_endpoint_auth_method must be .*'none'/);
  }, 90_000);
});
