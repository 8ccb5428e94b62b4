/**
 * The adapter contract oidc-provider relies on, run against a real PostgreSQL and PGlite.
 */
import { errors } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdapterFactory } from '../../src/adapter/index.js';
import { OidcRecords } from '../../src/adapter/records.js';
import { RecordBatches } from '../../src/adapter/batches.js';
import { sweepOnce } from '../../src/adapter/sweeper.js';
import { SessionStore } from '../../src/sessions/store.js';
import { openDatabase, openEmbedded, type Database } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const GRACE_SECONDS = 2;

describe.each(['postgres', 'embedded'] as const)('oidc-provider adapter on %s', (kind) => {
  let db: Database;
  let testDb: TestDatabase | undefined;
  let adapterFor: ReturnType<typeof createAdapterFactory>;
  let records: OidcRecords;
  let n = 0;
  const id = (prefix: string) => `${prefix}-${(n += 1)}-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    if (kind === 'postgres') {
      testDb = await createTestDatabase();
      db = await openDatabase({ kind: 'postgres', url: testDb.url, poolMax: 5 });
    } else {
      db = await openEmbedded(undefined);
    }
    await migrateToLatest(db);
    records = new OidcRecords(db.knex, GRACE_SECONDS);
    adapterFor = createAdapterFactory({ records, clients: { find: async () => undefined }, sessions: new SessionStore(db.knex, 5, 3600) });
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('stores and finds a payload by id, per model', async () => {
    const key = id('at');
    await adapterFor('AccessToken').upsert(key, { jti: key, kind: 'AccessToken', grantId: 'g', exp: 1 }, 60);
    expect(await adapterFor('AccessToken').find(key)).toMatchObject({ jti: key, grantId: 'g' });
    expect(await adapterFor('RefreshToken').find(key)).toBeUndefined();
    expect(await adapterFor('AccessToken').find('missing')).toBeUndefined();
  });

  it('replaces a payload on a second upsert', async () => {
    const key = id('session');
    await adapterFor('Session').upsert(key, { uid: `${key}-uid`, accountId: 'a', v: 1 }, 60);
    await adapterFor('Session').upsert(key, { uid: `${key}-uid`, accountId: 'a', v: 2 }, 60);
    expect(await adapterFor('Session').find(key)).toMatchObject({ v: 2 });
  });

  it('finds a session by uid, and the latest write wins a uid', async () => {
    const uid = id('uid');
    const first = id('s');
    const second = id('s');
    await adapterFor('Session').upsert(first, { uid, accountId: 'a' }, 60);
    await adapterFor('Session').upsert(second, { uid, accountId: 'b' }, 60);
    expect(await adapterFor('Session').findByUid(uid)).toMatchObject({ accountId: 'b' });
    expect(await adapterFor('Session').find(first)).toBeUndefined();
  });

  it('indexes sessions by account', async () => {
    const account = id('account');
    await adapterFor('Session').upsert(id('s'), { uid: id('u'), accountId: account }, 60);
    const rows = await db.knex('oidc_records').where({ model: 'Session', account_id: account });
    expect(rows).toHaveLength(1);
  });

  it('finds a device code by user code', async () => {
    const key = id('dc');
    const userCode = id('UC');
    await adapterFor('DeviceCode').upsert(key, { userCode, grantId: 'g' }, 60);
    expect(await adapterFor('DeviceCode').findByUserCode(userCode)).toMatchObject({ userCode });
    const newer = id('dc');
    await adapterFor('DeviceCode').upsert(newer, { userCode, grantId: 'g2' }, 60);
    expect(await adapterFor('DeviceCode').findByUserCode(userCode)).toMatchObject({ grantId: 'g2' });
    expect(await adapterFor('DeviceCode').find(key)).toBeUndefined();
  });

  it('consumes once; later reads say when', async () => {
    const key = id('code');
    await adapterFor('AuthorizationCode').upsert(key, { grantId: id('g') }, 60);
    await adapterFor('AuthorizationCode').consume(key);
    const found = await adapterFor('AuthorizationCode').find(key);
    expect(found?.consumed).toEqual(expect.any(Number));
  });

  it('lets exactly one of parallel consumes win; the losers get invalid_grant and the grant is revoked', async () => {
    const grantId = id('grant');
    const key = id('rt');
    await adapterFor('Grant').upsert(grantId, { accountId: 'a' }, 60);
    await adapterFor('RefreshToken').upsert(key, { grantId }, 60);
    await adapterFor('AccessToken').upsert(id('at'), { grantId }, 60);
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => adapterFor('RefreshToken').consume(key)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const losers = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(losers).toHaveLength(4);
    for (const loser of losers) expect(loser.reason).toBeInstanceOf(errors.InvalidGrant);
    expect(await adapterFor('Grant').find(grantId)).toBeUndefined();
    expect(await db.knex('oidc_records').where('grant_id', grantId)).toHaveLength(0);
  });

  it('does not treat a second consume of a non-redeemable record as reuse', async () => {
    const key = id('interaction');
    await adapterFor('Interaction').upsert(key, { uid: key }, 60);
    await adapterFor('Interaction').consume(key);
    await expect(adapterFor('Interaction').consume(key)).resolves.toBeUndefined();
  });

  it('destroys one record and revokes by grant id per model', async () => {
    const grantId = id('grant');
    const at = id('at');
    const rt = id('rt');
    await adapterFor('AccessToken').upsert(at, { grantId }, 60);
    await adapterFor('RefreshToken').upsert(rt, { grantId }, 60);
    await adapterFor('AccessToken').revokeByGrantId(grantId);
    expect(await adapterFor('AccessToken').find(at)).toBeUndefined();
    expect(await adapterFor('RefreshToken').find(rt)).toBeDefined();
    await adapterFor('RefreshToken').destroy(rt);
    expect(await adapterFor('RefreshToken').find(rt)).toBeUndefined();
  });

  it('keeps an expired record readable during the grace period, so the engine can say "expired"', async () => {
    const key = id('expiring');
    await adapterFor('AccessToken').upsert(key, { exp: 0 }, 1);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await adapterFor('AccessToken').find(key)).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, GRACE_SECONDS * 1000));
    expect(await adapterFor('AccessToken').find(key)).toBeUndefined();
  });

  it('sweeps records past their grace period and leaves live ones', async () => {
    const old = id('old');
    const live = id('live');
    await adapterFor('AccessToken').upsert(old, {}, 1);
    await adapterFor('AccessToken').upsert(live, {}, 3600);
    await db.knex('oidc_records').where('id', old).update({ expires_at: db.knex.raw("now() - interval '1 hour'") });
    expect(await sweepOnce(records)).toBeGreaterThanOrEqual(1);
    expect(await db.knex('oidc_records').where('id', old)).toHaveLength(0);
    expect(await db.knex('oidc_records').where('id', live)).toHaveLength(1);
  });

  it('accepts a replay-detection id once, even when two requests race', async () => {
    const jti = id('jti');
    const outcomes = await Promise.allSettled([1, 2, 3].map(() => adapterFor('ReplayDetection').upsert(jti, { iss: 'client' }, 60)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const loser of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
      expect(loser.reason).toBeInstanceOf(errors.InvalidRequest);
    }
  });

  it('answers look-ups with NUL characters as "not found" and refuses to store them as a client error', async () => {
    expect(await adapterFor('AccessToken').find('a\u0000b')).toBeUndefined();
    expect(await adapterFor('Session').findByUid('a\u0000b')).toBeUndefined();
    expect(await adapterFor('DeviceCode').findByUserCode('\u0000')).toBeUndefined();
    await expect(adapterFor('Interaction').upsert(id('i'), { params: { state: 'a\u0000b' } }, 60)).rejects.toBeInstanceOf(errors.InvalidRequest);
    await expect(adapterFor('Interaction').upsert(id('i'), { params: { state: 'a\ud800b' } }, 60)).rejects.toBeInstanceOf(errors.InvalidRequest);
    expect(await adapterFor('AccessToken').find('a\udc00b')).toBeUndefined();
  });

  it('fails only the caller whose record cannot be stored or looked up, not the rest of its batch', async () => {
    const good = [id('good'), id('good'), id('good')];
    // Written below the adapter's own checks, as a database error the checks did not foresee.
    const outcomes = await Promise.allSettled([
      ...good.map((key) => records.upsert('AccessToken', key, { jti: key }, 60)),
      records.upsert('AccessToken', id('bad'), { jti: 'lone \ud800 surrogate' }, 60),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect(await db.knex('oidc_records').whereIn('id', good)).toHaveLength(3);
    const batches = new RecordBatches(db.knex, GRACE_SECONDS);
    const looked = await Promise.allSettled([batches.find('AccessToken', good[0] ?? ''), batches.find('AccessToken', 'lone \ud800')]);
    expect(looked[0]).toMatchObject({ status: 'fulfilled', value: { payload: { jti: good[0] } } });
    expect(looked[1]?.status).toBe('rejected');
  });

  /** Statements the database is sent while `work` runs. */
  async function statementsDuring(work: () => Promise<unknown>): Promise<string[]> {
    const sent: string[] = [];
    const listener = (query: { sql: string }) => sent.push(query.sql);
    db.knex.on('query', listener);
    try {
      await work();
    } finally {
      db.knex.off('query', listener);
    }
    return sent;
  }

  it('answers look-ups made in the same turn with one statement, each with its own record', async () => {
    const token = id('token');
    const expired = id('expired');
    await adapterFor('ClientCredentials').upsert(token, { jti: token, kind: 'ClientCredentials' }, 60);
    await adapterFor('AccessToken').upsert(expired, { jti: expired }, 1);
    await db.knex('oidc_records').where('id', expired).update({ expires_at: db.knex.raw("now() - interval '1 hour'") });
    let found: unknown[] = [];
    // Introspection's shape: the same value looked up as three models at once.
    const sent = await statementsDuring(async () => {
      found = await Promise.all([
        adapterFor('AccessToken').find(token),
        adapterFor('ClientCredentials').find(token),
        adapterFor('RefreshToken').find(token),
        adapterFor('AccessToken').find(expired),
        adapterFor('AccessToken').find('missing'),
      ]);
    });
    expect(sent).toHaveLength(1);
    expect(found).toEqual([undefined, { jti: token, kind: 'ClientCredentials' }, undefined, undefined, undefined]);
  });

  it('writes records upserted in the same turn with one statement; the last write of a record wins', async () => {
    const keys = Array.from({ length: 25 }, () => id('batch'));
    const twice = id('twice');
    const sent = await statementsDuring(() =>
      Promise.all([
        ...keys.map((key, index) => adapterFor('AccessToken').upsert(key, { jti: key, index, grantId: `g-${index}` }, 60)),
        adapterFor('Grant').upsert(twice, { v: 1 }, 60),
        adapterFor('Grant').upsert(twice, { v: 2 }, 120),
      ]),
    );
    expect(sent).toHaveLength(1);
    const rows = await db.knex('oidc_records').whereIn('id', keys).orderBy('id');
    expect(rows).toHaveLength(25);
    for (const row of rows) expect(row.grant_id).toBe(`g-${(row.payload as { index: number }).index}`);
    expect(await adapterFor('Grant').find(twice)).toEqual({ v: 2 });
    const [stored] = await db.knex('oidc_records').where({ model: 'Grant', id: twice }).select('expires_at');
    expect(new Date(stored.expires_at as string).getTime()).toBeGreaterThan(Date.now() + 60_000);
  });

  it('serves clients from the client source and refuses writes through the provider', async () => {
    await expect(adapterFor('Client').upsert('x', {})).rejects.toThrow(/managed by the CLI/);
    expect(await adapterFor('Client').find('x')).toBeUndefined();
  });
});
