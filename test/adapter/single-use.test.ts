/**
 * What must happen once, whoever races for it (FLOW-8, RFC 9126): a DPoP proof or client
 * assertion id is recorded once, a pushed request_uri is consumed once — on PostgreSQL and PGlite.
 */
import { errors } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdapterFactory } from '../../src/adapter/index.js';
import { OidcRecords } from '../../src/adapter/records.js';
import { SessionStore } from '../../src/sessions/store.js';
import { openDatabase, openEmbedded, type Database } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

describe.each(['postgres', 'embedded'] as const)('single-use records on %s', (kind) => {
  let db: Database;
  let testDb: TestDatabase | undefined;
  let adapterFor: ReturnType<typeof createAdapterFactory>;

  beforeAll(async () => {
    if (kind === 'postgres') {
      testDb = await createTestDatabase();
      db = await openDatabase({ kind: 'postgres', url: testDb.url, poolMax: 5 });
    } else {
      db = await openEmbedded(undefined);
    }
    await migrateToLatest(db);
    adapterFor = createAdapterFactory({ records: new OidcRecords(db.knex, 60), clients: { find: async () => undefined }, sessions: new SessionStore(db.knex, 5, 3600) });
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('records a replay-detection id once when several requests store it at the same moment', async () => {
    const replay = adapterFor('ReplayDetection');
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => replay.upsert('proof-1', { jti: 'proof-1', iss: 'client' }, 300)));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(errors.InvalidRequest);
    expect(await replay.find('proof-1')).toMatchObject({ iss: 'client' });
  });

  it('consumes a pushed authorization request once; the others get invalid_request_uri', async () => {
    const pushed = adapterFor('PushedAuthorizationRequest');
    await pushed.upsert('par-1', { jti: 'par-1', kind: 'PushedAuthorizationRequest', request: 'x.y.', trusted: false } as never, 60);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => pushed.consume('par-1')));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(errors.InvalidRequestUri);
    expect(await pushed.find('par-1')).toMatchObject({ consumed: expect.any(Number) });
  });
});
