/**
 * Issue 13 item 8, storage side, on PostgreSQL and PGlite: ending all of an account's sessions
 * and revoking every grant it holds — including grants of sessions that already expired — and
 * nothing of another account.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdapterFactory } from '../../src/adapter/index.js';
import { OidcRecords } from '../../src/adapter/records.js';
import { SessionStore } from '../../src/sessions/store.js';
import { openDatabase, openEmbedded, type Database } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

describe.each(['postgres', 'embedded'] as const)('SessionStore.endAllAndRevokeGrants on %s', (kind) => {
  let db: Database;
  let testDb: TestDatabase | undefined;
  let sessions: SessionStore;
  let adapterFor: ReturnType<typeof createAdapterFactory>;

  beforeAll(async () => {
    if (kind === 'postgres') {
      testDb = await createTestDatabase();
      db = await openDatabase({ kind: 'postgres', url: testDb.url, poolMax: 3 });
    } else {
      db = await openEmbedded(undefined);
    }
    await migrateToLatest(db);
    sessions = new SessionStore(db.knex, 5, 3600);
    adapterFor = createAdapterFactory({ records: new OidcRecords(db.knex, 60), clients: { find: async () => undefined }, sessions });
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  async function signedIn(accountId: string, n: number) {
    const grantId = `grant-${accountId}-${n}`;
    await adapterFor('Grant').upsert(grantId, { jti: grantId, kind: 'Grant', accountId, clientId: 'spa' }, 3600);
    await adapterFor('RefreshToken').upsert(`rt-${grantId}`, { jti: `rt-${grantId}`, kind: 'RefreshToken', grantId, accountId }, 3600);
    await sessions.save(`session-${accountId}-${n}`, { uid: `uid-${accountId}-${n}`, accountId, authorizations: { spa: { grantId } } }, 3600);
  }

  it('ends every session and revokes every grant of the account, and only of that account', async () => {
    await signedIn('ann', 1);
    await signedIn('ann', 2);
    await signedIn('bob', 1);
    // Ann's first session is already gone (expired and swept); its offline grant is not.
    await db.knex('oidc_records').where({ model: 'Session', id: 'session-ann-1' }).delete();

    expect(await sessions.endAllAndRevokeGrants('ann')).toEqual({ sessions: 1, grants: 2 });
    expect(await sessions.listForAccount('ann')).toEqual([]);
    for (const n of [1, 2]) {
      expect(await adapterFor('Grant').find(`grant-ann-${n}`)).toBeUndefined();
      expect(await adapterFor('RefreshToken').find(`rt-grant-ann-${n}`)).toBeUndefined();
    }
    expect(await sessions.listForAccount('bob')).toHaveLength(1);
    expect(await adapterFor('RefreshToken').find('rt-grant-bob-1')).toBeDefined();
    expect(await sessions.endAllAndRevokeGrants('nobody')).toEqual({ sessions: 0, grants: 0 });
  });
});
