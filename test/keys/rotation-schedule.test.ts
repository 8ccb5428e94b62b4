/** JWT-2: the automatic rotation schedule publishes one new generation, once across replicas. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { SigningKeyStore } from '../../src/keys/store.js';
import { MasterSecret } from '../../src/security/master-secret.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

let database: TestDatabase;
let db: Database;
let keys: SigningKeyStore;

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase({ kind: 'postgres', url: database.url, poolMax: 6 });
  await migrateToLatest(db);
  keys = new SigningKeyStore(db.knex, new MasterSecret(randomBytes(32).toString('base64url')));
  await keys.ensureInitialKeys();
});

afterAll(async () => {
  await db?.close();
  await database?.drop();
});

describe('JWT-2 rotation schedule', () => {
  it('does nothing while the keys are younger than the rotation age', async () => {
    expect(await keys.rotateIfDue(3600, 60)).toEqual([]);
  });

  it('publishes exactly one generation when due, even when several replicas check at once', async () => {
    const later = new Date(Date.now() + 2 * 3600 * 1000);
    const results = await Promise.all([1, 2, 3, 4].map(() => keys.rotateIfDue(3600, 60, later)));
    const published = results.filter((kids) => kids.length > 0);
    expect(published).toHaveLength(1);
    expect(published[0]).toHaveLength(3);
    const states = await keys.list(later, () => 3600);
    expect(states.filter((entry) => entry.state === 'pending')).toHaveLength(3);
  });

  it('does not rotate again while a generation is still pending', async () => {
    expect(await keys.rotateIfDue(1, 60, new Date(Date.now() + 2 * 3600 * 1000))).toEqual([]);
  });
});
