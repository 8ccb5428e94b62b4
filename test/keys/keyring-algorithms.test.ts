/** FLOW-6 / JWT-3: ID tokens default to RS256, so the keyring always has a usable RS256 key (both databases). */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { SigningKeyStore } from '../../src/keys/store.js';
import { MasterSecret } from '../../src/security/master-secret.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const retention = () => 3600;

describe.each(['postgres', 'embedded'] as const)('keyring algorithms (%s)', (kind) => {
  let db: Database;
  let database: TestDatabase | undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-keyring-'));

  afterAll(async () => {
    await db?.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to load a keyring without an RS256 key, and the start-up step creates the missing one', async () => {
    if (kind === 'postgres') {
      database = await createTestDatabase();
      db = await openDatabase({ kind: 'postgres', url: database.url, poolMax: 3 });
    } else {
      db = await openDatabase({ kind: 'embedded', dataDir: path.join(dir, 'db') });
    }
    await migrateToLatest(db);
    const keys = new SigningKeyStore(db.knex, new MasterSecret(randomBytes(32).toString('base64url')));
    await keys.ensureInitialKeys();
    expect((await keys.loadKeyring(new Date(), retention)).jwks.map((jwk) => jwk.alg).sort()).toEqual(['ES256', 'RS256']);

    await db.knex('keys').where({ purpose: 'token', alg: 'RS256' }).delete();
    await expect(keys.loadKeyring(new Date(), retention)).rejects.toThrow(/RS256/);

    // The start-up step writes a fresh token generation (ES256 and RS256) when one algorithm is missing.
    expect(await keys.ensureInitialKeys()).toHaveLength(2);
    const algs = (await keys.loadKeyring(new Date(), retention)).jwks.map((jwk) => jwk.alg);
    expect([...new Set(algs)].sort()).toEqual(['ES256', 'RS256']);
  });
});
