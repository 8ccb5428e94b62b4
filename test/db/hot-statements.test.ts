/**
 * The token path's statements: named prepared statements on the knex pool's connections on
 * PostgreSQL, the same statement through knex on PGlite; bound parameters either way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIND_RECORDS, HotStatements, WRITE_RECORDS, kindOf, knexText } from '../../src/db/hot-statements.js';
import { openDatabase, openEmbedded, type Database } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

describe('hot statement definitions', () => {
  it('number their parameters in order and translate to knex placeholders', () => {
    for (const statement of [FIND_RECORDS, WRITE_RECORDS]) expect(knexText(statement.text)).not.toMatch(/\$\d/);
    expect(knexText(FIND_RECORDS.text)).toBe('SELECT model, id, payload, consumed_at FROM gatehouse_find_records(?::jsonb, ?)');
  });
});

describe.each(['postgres', 'embedded'] as const)('hot statements on %s', (kind) => {
  let db: Database;
  let testDb: TestDatabase | undefined;
  let statements: HotStatements;

  beforeAll(async () => {
    if (kind === 'postgres') {
      testDb = await createTestDatabase();
      const migrating = await openDatabase({ kind: 'postgres', url: testDb.url, poolMax: 2 });
      await migrateToLatest(migrating).finally(() => migrating.close());
      // One connection: a statement that failed must have given it back, or the next one waits forever.
      db = await openDatabase({ kind: 'postgres', url: testDb.url, poolMax: 1 });
    } else {
      db = await openEmbedded(undefined);
      await migrateToLatest(db);
    }
    statements = new HotStatements(db.knex);
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('knows which database it talks to', () => {
    expect(kindOf(db.knex)).toBe(kind);
  });

  it('writes and finds records with bound parameters; text in a value stays data', async () => {
    const id = `hot-'); DROP TABLE oidc_records; --`;
    await statements.run(WRITE_RECORDS, [JSON.stringify([{ model: 'AccessToken', id, payload: { jti: id }, grant_id: null, expires_at: null }])]);
    const rows = await statements.run(FIND_RECORDS, [JSON.stringify([{ model: 'AccessToken', id }, { model: 'AccessToken', id: 'missing' }]), 2]);
    expect(rows).toEqual([{ model: 'AccessToken', id, payload: { jti: id }, consumed_at: null }]);
  });

  it('gives the connection back after a failed statement', async () => {
    await expect(statements.run(FIND_RECORDS, ['not json', 2])).rejects.toThrow(/json/i);
    expect(await statements.run(FIND_RECORDS, ['[]', 2])).toEqual([]);
  });

  it.runIf(kind === 'postgres')('prepares each statement once per connection', async () => {
    await statements.run(FIND_RECORDS, ['[]', 2]);
    const { rows } = (await db.knex.raw('SELECT name FROM pg_prepared_statements')) as { rows: { name: string }[] };
    expect(rows.map((row) => row.name)).toEqual(expect.arrayContaining([FIND_RECORDS.name, WRITE_RECORDS.name]));
  });
});
