/** OPS-2: migrations are listed, append-only, and run once even when replicas start together. */
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.js';
import { openDatabase, type Database } from '../../src/db/index.js';
import { migrateToLatest, pendingMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

describe('OPS-2 migrations', () => {
  const opened: Database[] = [];
  let testDb: TestDatabase | undefined;

  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await testDb?.drop();
  });

  it('lists every migration file, in order', () => {
    const files = readdirSync('migrations')
      .filter((name) => /^\d{14}_.+\.ts$/.test(name))
      .map((name) => name.replace(/\.ts$/, ''))
      .sort();
    expect(migrations.map((migration) => migration.name)).toEqual(files);
  });

  it('migrates once when several processes start together, then reports nothing pending', async () => {
    testDb = await createTestDatabase();
    const replicas = await Promise.all([1, 2, 3].map(() => openDatabase({ kind: 'postgres', url: testDb?.url ?? '', poolMax: 3 })));
    opened.push(...replicas);
    const results = await Promise.all(replicas.map((db) => migrateToLatest(db)));
    const applied = results.flatMap((result) => result.applied);
    expect(applied).toEqual(migrations.map((migration) => migration.name));
    expect(await pendingMigrations(replicas[0] as Database)).toEqual([]);
  });
});
