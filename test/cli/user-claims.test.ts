/**
 * FLOW-10 and FLOW-1 from the operator's side, on both databases: standard claims set and
 * changed with `users create/update --claims FILE` and flags, validated by name (nothing is
 * written on a bad value), and a PKCE opt-out warned about at import and shown in `clients list`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStorage, type DatabaseChoice, type TestStorage } from '../support/server.js';
import { runToEnd } from '../support/process.js';

const CLI = path.resolve('src/cli/main.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-claims-cli-'));

function file(name: string, content: unknown): string {
  const target = path.join(dir, name);
  writeFileSync(target, JSON.stringify(content));
  return target;
}

describe.each<DatabaseChoice>(['postgres', 'embedded'])('CLI: standard claims and PKCE opt-out (%s)', (kind) => {
  let storage: TestStorage;

  const gatehouse = (args: string[], stdin = '') => runToEnd(CLI, args, { ...storage.env, LOG_LEVEL: 'silent' }, { stdin, timeoutMs: 170_000 });

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    // Only `migrate` (and the server) bring the schema up to date; other commands refuse a new database.
    expect((await gatehouse(['migrate'])).code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await storage?.dispose();
  });

  // Each CLI run boots a process and opens the database (PGlite: seconds): few runs, long timeouts.
  type Account = { username: string; name?: string; email?: string; emailVerified: boolean; claims: Record<string, unknown> };

  it('creates a user with claims from a file and flags, changes and removes claims, and refuses bad ones by name', async () => {
    const claims = file(`frank-${kind}.json`, { given_name: 'Frank', family_name: 'Example', birthdate: '0000-07-14', locale: 'de-DE', zoneinfo: 'Europe/Berlin', address: { locality: 'Berlin', country: 'DE' } });
    const created = await gatehouse(['users', 'create', 'frank', '--json', '--password-stdin', '--email', 'frank@example.com', '--name', 'Frank Example', '--claims', claims], 'orchard-lamp-4711\n');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const frank = JSON.parse(created.stdout) as Account;
    expect(frank).toMatchObject({ name: 'Frank Example', email: 'frank@example.com', emailVerified: false });
    expect(frank.claims).toMatchObject({ given_name: 'Frank', birthdate: '0000-07-14', address: { locality: 'Berlin', country: 'DE' }, updated_at: expect.any(Number) });

    const changes = file(`frank-changes-${kind}.json`, { phone_number: '+4930123456', phone_number_verified: true, address: null, email_verified: true });
    const updated = await gatehouse(['users', 'update', 'frank', '--json', '--claims', changes, '--name', 'Frank B. Example']);
    expect(updated.code).toBe(0);
    const after = JSON.parse(updated.stdout) as Account;
    expect(after).toMatchObject({ name: 'Frank B. Example', emailVerified: true });
    expect(after.claims).toMatchObject({ given_name: 'Frank', phone_number: '+4930123456', phone_number_verified: true });
    expect(after.claims['address']).toBeUndefined();

    const bad = {
      shoe_size: 38,
      phone_number: '0301234567',
      birthdate: '1990-02-30',
      zoneinfo: 'Mars/Olympus',
      locale: 'not a locale',
      picture: 'javascript:alert(1)',
      email_verified: 'yes',
      given_name: 'x'.repeat(201),
    };
    const refused = await gatehouse(['users', 'update', 'frank', '--claims', file(`bad-${kind}.json`, bad)]);
    expect(refused.code).toBe(65);
    for (const name of Object.keys(bad)) expect(refused.stderr, name).toContain(name);
    const list = JSON.parse((await gatehouse(['users', 'list', '--json'])).stdout) as Account[];
    expect(list.find((user) => user.username === 'frank')?.claims).toMatchObject({ given_name: 'Frank', phone_number: '+4930123456', birthdate: '0000-07-14' });
  }, 180_000);

  it('warns about a PKCE opt-out at import and shows it in clients list', async () => {
    const imported = await gatehouse(['clients', 'import', file(`clients-${kind}.json`, [
      { client_id: 'legacy-rp', redirect_uris: ['https://legacy.example/cb'], scope: 'openid', require_pkce: false },
      { client_id: 'modern-rp', redirect_uris: ['https://modern.example/cb'], scope: 'openid address phone' },
    ])]);
    expect(imported.code).toBe(0);
    expect(imported.stderr).toMatch(/warning: legacy-rp: require_pkce is false/);
    expect(imported.stderr).not.toContain('modern-rp');
    const list = await gatehouse(['clients', 'list']);
    expect(list.stdout).toMatch(/legacy-rp .*OFF \(opt-out\)/);
    expect(list.stdout).toMatch(/modern-rp .*required/);
  }, 120_000);
});
