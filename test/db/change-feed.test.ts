/** The change feed: every process hears of a change; the process that made it, before publish returns. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChangeFeed, type ChangeFeed } from '../../src/db/change-feed.js';
import { openDatabase, type Database } from '../../src/db/index.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

describe('change feed on postgres', () => {
  let testDb: TestDatabase;
  let db: Database;
  let writer: ChangeFeed;
  let other: ChangeFeed;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ kind: 'postgres', url: testDb.url, poolMax: 4 });
    writer = await openChangeFeed(db, () => undefined);
    other = await openChangeFeed(db, () => undefined);
  });

  afterAll(async () => {
    await writer?.close();
    await other?.close();
    await db?.close();
    await testDb?.drop();
  });

  it('tells the publishing process before publish returns, and every other process soon after', async () => {
    const heardByWriter: string[] = [];
    const heardByOther: string[] = [];
    writer.subscribe((topic, key) => heardByWriter.push(`${topic}:${key}`));
    other.subscribe((topic, key) => heardByOther.push(`${topic}:${key}`));
    await writer.publish('clients', 'rotating');
    expect(heardByWriter).toContain('clients:rotating');
    await expect.poll(() => heardByOther).toContain('clients:rotating');
  });
});
