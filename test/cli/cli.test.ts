/**
 * The gatehouse CLI as an operator uses it: a separate process against the same database as a
 * running server, on PostgreSQL and on the embedded database (where the server owns the
 * database and the CLI's commands run inside it); what it registers works from openid-client
 * right away. Driver differences (knex on pg and on PGlite) surface here.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runToEnd, type FinishedProcess } from '../support/process.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';

// Every test here runs whole processes (a server start migrates and creates keys): on a busy
// two-core machine one can take tens of seconds.
vi.setConfig({ testTimeout: 90_000 });

const CLI = 'src/cli/main.ts';
const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-'));

function file(name: string, content: unknown): string {
  const target = path.join(dir, name);
  writeFileSync(target, typeof content === 'string' ? content : JSON.stringify(content));
  return target;
}

describe.each(['postgres', 'embedded'] as DatabaseChoice[])('gatehouse CLI on %s', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  const gatehouse = (args: string[], options: { stdin?: string; env?: Record<string, string | undefined> } = {}): Promise<FinishedProcess> =>
    runToEnd(CLI, args, { ...storage.env, ISSUER: server.issuer, ...options.env }, options.stdin === undefined ? {} : { stdin: options.stdin });

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  it('registers an API, a service client and a user that work against the running server at once', async () => {
    const apis = await gatehouse(['apis', 'import', file(`apis-${kind}.json`, [{ identifier: 'https://orders.example', name: 'Orders', scopes: ['orders:read'] }])]);
    expect(apis).toMatchObject({ code: 0 });
    expect(apis.stdout).toContain('created https://orders.example');

    const clients = await gatehouse(['clients', 'import', '--json', file(`clients-${kind}.json`, [{ client_id: 'orders-worker', grant_types: ['client_credentials'], scope: 'orders:read' }])]);
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

  it('deletes a client and says so; a second delete is "no client" with exit 65', async () => {
    await gatehouse(['clients', 'import', file(`doomed-${kind}.json`, [{ client_id: 'doomed', grant_types: ['client_credentials'] }])]);
    const deleted = await gatehouse(['clients', 'delete', 'doomed']);
    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted doomed\n', stderr: '' });
    expect(await server.gatehouse.services.clients.metadata('doomed')).toBeUndefined();
    expect(await gatehouse(['clients', 'delete', 'doomed'])).toMatchObject({ code: 65, stdout: '', stderr: 'gatehouse: no client "doomed"\n' });
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

  if (kind === 'postgres') {
    it('refuses quickstart on a real database without the explicit flag, before touching it', async () => {
      const result = await gatehouse(['quickstart'], { env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--i-know-this-is-a-real-database');
    });

    it('says which secret is wrong and exits 78, also for keys list', async () => {
      const result = await gatehouse(['keys', 'list'], { env: { GATEHOUSE_SECRET: randomBytes(32).toString('base64url') } });
      expect(result.code).toBe(78);
      expect(result.stderr).toMatch(/^gatehouse: GATEHOUSE_SECRET is not the master secret this database was set up with.*Set GATEHOUSE_SECRET to the original value/);
      expect(result.stderr).not.toContain('unable to authenticate');
    });
  }

  if (kind === 'embedded') {
    it('runs its commands inside the server that owns the database, over an owner-only socket', async () => {
      const socket = path.join(storage.env['GATEHOUSE_DATA_DIR'] ?? '', 'gatehouse.sock');
      expect(statSync(socket).mode & 0o777).toBe(0o600);
      expect(server.logs.join('')).toContain('"event":"cli_command"');
    });

    it('on its own after the server stops: same output and exit codes; a missing master secret is refused, not generated', async () => {
      await gatehouse(['clients', 'import', file('direct.json', [{ client_id: 'direct', grant_types: ['client_credentials'] }])]);
      await server.stop();
      expect(await gatehouse(['clients', 'delete', 'direct'])).toMatchObject({ code: 0, stdout: 'deleted direct\n' });
      expect(await gatehouse(['clients', 'delete', 'doomed'])).toMatchObject({ code: 65, stdout: '', stderr: 'gatehouse: no client "doomed"\n' });
      // This data folder was set up with GATEHOUSE_SECRET: without it there is no master.secret to use.
      const withoutSecret = await gatehouse(['keys', 'list'], { env: { GATEHOUSE_SECRET: undefined } });
      expect(withoutSecret.code).toBe(78);
      expect(withoutSecret.stderr).toMatch(/^gatehouse: GATEHOUSE_SECRET is not set and .*master\.secret does not exist, but the database .* holds keys sealed/);
      expect(existsSync(path.join(storage.env['GATEHOUSE_DATA_DIR'] ?? '', 'master.secret'))).toBe(false);
    });
  }
});

describe('gatehouse CLI before the database', () => {
  // Nothing listens on port 1: any attempt to open the database would fail.
  const unreachable = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', GATEHOUSE_SECRET: 'x'.repeat(40) };

  it('answers usage errors, help and --version without opening the database', async () => {
    const unknown = await runToEnd(CLI, ['frobnicate'], unreachable);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect((await runToEnd(CLI, ['--help'], unreachable)).stdout).toContain('Usage: gatehouse');
    expect(await runToEnd(CLI, ['help'], unreachable)).toMatchObject({ code: 0, stdout: expect.stringContaining('clients delete CLIENT_ID') });
    expect(await runToEnd(CLI, ['--version'], unreachable)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^gatehouse \d+\.\d+\.\d+\n$/) });
    expect((await runToEnd(CLI, ['clients', 'delete'], unreachable)).code).toBe(2);
  });

  it('says in one line that the database cannot be reached', async () => {
    const result = await runToEnd(CLI, ['clients', 'list'], unreachable);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('gatehouse: cannot use the database at 127.0.0.1:1/nowhere (connection refused: is PostgreSQL running there?): check DATABASE_URL\n');
  });

  it('migrates only in migrate: other commands on a database without the schema say what to run', async () => {
    const { createTestDatabase } = await import('../support/databases.js');
    const database = await createTestDatabase();
    try {
      const env = { DATABASE_URL: database.url, GATEHOUSE_SECRET: 'x'.repeat(40) };
      const refused = await runToEnd(CLI, ['clients', 'list'], env);
      expect(refused.code).toBe(78);
      expect(refused.stderr).toContain('run `gatehouse migrate`');
      const migrated = await runToEnd(CLI, ['migrate'], env);
      expect(migrated).toMatchObject({ code: 0, stdout: expect.stringContaining('applied: 20261122000100_initial_schema') });
      expect(await runToEnd(CLI, ['clients', 'list'], env)).toMatchObject({ code: 0, stdout: '(none)\n' });
    } finally {
      await database.drop();
    }
  });

  it('does not create an embedded database to say it has no schema', async () => {
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-none-')), 'data');
    const result = await runToEnd(CLI, ['users', 'list'], { GATEHOUSE_DATA_DIR: dataDir });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('run `gatehouse migrate` (or start the server, which migrates)');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses an embedded database held by another process that takes no commands (exit 69)', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-held-'));
    mkdirSync(path.join(dataDir, 'pgdata'));
    // The test runner itself plays a process holding the data folder without a command socket.
    writeFileSync(path.join(dataDir, 'gatehouse.pid'), String(process.pid));
    const result = await runToEnd(CLI, ['clients', 'list'], { GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_SECRET: 'x'.repeat(40) });
    expect(result.code).toBe(69);
    expect(result.stderr).toContain('in use by another Gatehouse process');
  });

  it('warns about a misspelt setting', async () => {
    const result = await runToEnd(CLI, ['clients', 'list'], { ...unreachable, SESION_IDLE_TIMEOUT: '600' });
    expect(result.stderr).toContain('gatehouse: warning: SESION_IDLE_TIMEOUT is not a Gatehouse setting and is ignored: did you mean SESSION_IDLE_TIMEOUT?');
  });
});
