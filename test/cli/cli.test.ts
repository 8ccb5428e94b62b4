/**
 * The gatehouse CLI as an operator uses it: a separate process against the same database as a
 * running server; what it registers works from openid-client right away.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

const CLI = path.resolve('src/cli/main.ts');
let storage: TestStorage;
let server: TestServer;
const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-'));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function gatehouse(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...storage.env, ISSUER: server.issuer, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

function file(name: string, content: unknown): string {
  const target = path.join(dir, name);
  writeFileSync(target, typeof content === 'string' ? content : JSON.stringify(content));
  return target;
}

beforeAll(async () => {
  storage = await createTestStorage('postgres');
  server = await startTestServer(storage);
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

describe('gatehouse CLI', () => {
  it('registers an API, a service client and a user that work against the running server at once', async () => {
    const apis = await gatehouse(['apis', 'import', file('apis.json', [{ identifier: 'https://orders.example', name: 'Orders', scopes: ['orders:read'] }])]);
    expect(apis).toMatchObject({ code: 0 });
    expect(apis.stdout).toContain('created https://orders.example');

    const clients = await gatehouse(['clients', 'import', '--json', file('clients.json', [{ client_id: 'orders-worker', grant_types: ['client_credentials'], scope: 'orders:read' }])]);
    expect(clients.code).toBe(0);
    const [saved] = JSON.parse(clients.stdout) as { clientId: string; generatedSecret: string }[];
    expect(saved?.generatedSecret).toEqual(expect.any(String));

    const config = await oidc.discovery(new URL(server.issuer), 'orders-worker', undefined, oidc.ClientSecretBasic(saved?.generatedSecret), {
      execute: [oidc.allowInsecureRequests],
    });
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'orders:read', resource: 'https://orders.example' });
    expect(tokens.access_token.split('.')).toHaveLength(3);

    const password = randomBytes(16).toString('base64url');
    expect(await gatehouse(['users', 'create', 'dave', '--password-stdin', '--email', 'dave@example.com'], { stdin: `${password}\n` })).toMatchObject({ code: 0 });
    expect(await server.gatehouse.services.accounts.authenticate('dave', password)).toBeDefined();
    const newPassword = randomBytes(16).toString('base64url');
    expect(await gatehouse(['users', 'set-password', 'dave', '--password-stdin'], { stdin: newPassword })).toMatchObject({ code: 0 });
    expect(await server.gatehouse.services.accounts.authenticate('dave', newPassword)).toBeDefined();

    const list = await gatehouse(['clients', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ clientId: 'orders-worker' })]);
  });

  it('rejects an unknown field or a wrong type by name, exits 65 and writes nothing', async () => {
    const unknown = await gatehouse(['clients', 'import', file('bad1.json', [{ client_id: 'x1', grant_types: ['client_credentials'], colour: 'blue' }])]);
    expect(unknown.code).toBe(65);
    expect(unknown.stderr).toContain('"[0].colour"');
    const wrongType = await gatehouse(['clients', 'import', file('bad2.json', [{ client_id: 'x2', redirect_uris: 'https://a.example/cb' }])]);
    expect(wrongType.code).toBe(65);
    expect(wrongType.stderr).toContain('[0].redirect_uris');
    const halfGood = await gatehouse(['clients', 'import', file('bad3.json', [{ client_id: 'good', grant_types: ['client_credentials'] }, { client_id: 'bad', scope: 'no-such-scope' }])]);
    expect(halfGood.code).toBe(65);
    expect(await server.gatehouse.services.db.knex('clients').whereIn('client_id', ['x1', 'x2', 'good', 'bad'])).toHaveLength(0);
    const notJson = await gatehouse(['apis', 'import', file('bad4.json', '{nope')]);
    expect(notJson.code).toBe(65);
  });

  it('rejects a weak password and a bad username', async () => {
    expect((await gatehouse(['users', 'create', 'erin', '--password-stdin'], { stdin: 'short' })).code).toBe(65);
    expect((await gatehouse(['users', 'create', 'x y', '--password-stdin'], { stdin: randomBytes(16).toString('hex') })).code).toBe(65);
  });

  it('answers usage errors with exit 2 and help', async () => {
    const result = await gatehouse(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command');
    expect((await gatehouse(['--help'])).stdout).toContain('Usage: gatehouse');
  });

  it('lists keys and rotates: the new keys are published at once, active later', async () => {
    const before = JSON.parse((await gatehouse(['keys', 'list', '--json'])).stdout) as { state: string }[];
    expect(before.every((key) => key.state === 'active')).toBe(true);
    const rotated = await gatehouse(['keys', 'rotate', '--json']);
    expect(rotated.code).toBe(0);
    const { kids } = JSON.parse(rotated.stdout) as { kids: string[] };
    const after = JSON.parse((await gatehouse(['keys', 'list', '--json'])).stdout) as { kid: string; state: string }[];
    expect(after.filter((key) => kids.includes(key.kid)).map((key) => key.state)).toEqual(['pending', 'pending', 'pending']);
    // The running server hears of the rotation and publishes the new token keys.
    await expect
      .poll(async () => ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid), { timeout: 5000 })
      .toEqual(expect.arrayContaining(kids.filter((kid) => !kid.startsWith('cookie-'))));
  });

  it('refuses quickstart on a real database without the explicit flag', async () => {
    const result = await gatehouse(['quickstart']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--i-know-this-is-a-real-database');
  });

  it('refuses to open an embedded database that a running server holds', async () => {
    const embedded = await createTestStorage('embedded');
    const running = await startTestServer(embedded);
    try {
      const result = await gatehouse(['clients', 'list'], { env: { ...embedded.env, DATABASE_URL: '' } });
      expect(result.code).toBe(69);
      expect(result.stderr).toContain('in use by another Gatehouse process');
    } finally {
      await running.stop();
      await embedded.dispose();
    }
  });
});
