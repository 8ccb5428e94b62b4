/**
 * SessionStore: oidc-provider's browser sessions (SESS-1) as rows of `oidc_records`, plus what
 * Gatehouse adds around them. Enforces:
 * - SESS-8: when a login creates a session beyond the account's limit, the oldest sessions end
 *   (their grants, and so their refresh tokens, are revoked). A per-account advisory lock makes
 *   two logins landing at once on two replicas count correctly.
 * - SESS-9: each session keeps the device and network it was last used from, never exposed by id.
 * - Ending a session deletes its row (the cookie is worthless at once) and revokes its grants.
 */
import type { Knex } from 'knex';
import type { Payload } from '../adapter/records.js';

export interface SessionMetadata {
  readonly userAgent?: string | undefined;
  readonly ip?: string | undefined;
}

export interface ActiveSession {
  readonly uid: string;
  readonly userAgent: string | undefined;
  readonly ip: string | undefined;
  readonly startedAt: Date;
  readonly lastSeenAt: Date;
  readonly expiresAt: Date | undefined;
}

interface SessionRow {
  id: string;
  uid: string;
  payload: Payload;
  user_agent: string | null;
  ip: string | null;
  created_at: Date;
  last_seen_at: Date | null;
  expires_at: Date | null;
}

const MODEL = 'Session';
// An ended session's id, kept as long as the session could have lived: the engine saves the
// session it loaded at the end of every request, and a request already under way when the
// session ended must not bring it back.
const ENDED = 'EndedSession';

function grantIdsOf(payload: Payload): string[] {
  const authorizations = payload['authorizations'];
  if (!authorizations || typeof authorizations !== 'object') return [];
  return Object.values(authorizations as Record<string, { grantId?: unknown }>)
    .map((authorization) => authorization.grantId)
    .filter((grantId): grantId is string => typeof grantId === 'string');
}

export class SessionStore {
  constructor(
    private readonly knex: Knex,
    private readonly maxPerAccount: number,
    private readonly endedRetentionSeconds: number,
  ) {}

  /** Saves a session as oidc-provider asks; returns the uids of sessions ended to respect the limit. */
  async save(id: string, payload: Payload, expiresIn: number | undefined, metadata: SessionMetadata = {}): Promise<string[]> {
    const uid = typeof payload['uid'] === 'string' ? payload['uid'] : null;
    const accountId = typeof payload['accountId'] === 'string' && payload['accountId'] ? payload['accountId'] : null;
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    const ended = await this.knex.transaction(async (trx) => {
      if (accountId) await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`session-limit:${accountId}`]);
      // Session uids are unique: the latest write wins.
      if (uid) await trx('oidc_records').where({ model: MODEL, uid }).andWhereNot('id', id).delete();
      const existing = await trx('oidc_records').select('id').where({ model: MODEL, id }).first();
      const columns = {
        payload: JSON.stringify(payload),
        uid,
        account_id: accountId,
        expires_at: expiresAt,
        last_seen_at: trx.fn.now(),
        ...(metadata.userAgent !== undefined ? { user_agent: metadata.userAgent.slice(0, 512) } : {}),
        ...(metadata.ip !== undefined ? { ip: metadata.ip.slice(0, 64) } : {}),
      };
      if (existing) {
        await trx('oidc_records').where({ model: MODEL, id }).update(columns);
        return [];
      }
      if (await trx('oidc_records').select('id').where({ model: ENDED, id }).first()) return [];
      await trx('oidc_records').insert({ model: MODEL, id, ...columns });
      return accountId ? this.endBeyondLimit(trx, accountId) : [];
    });
    return ended;
  }

  private async endBeyondLimit(trx: Knex.Transaction, accountId: string): Promise<string[]> {
    const surplus = (await trx('oidc_records')
      .select('id', 'uid', 'payload')
      .where({ model: MODEL, account_id: accountId })
      .andWhere('expires_at', '>', trx.fn.now())
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .offset(this.maxPerAccount)) as Pick<SessionRow, 'id' | 'uid' | 'payload'>[];
    await this.endRows(trx, surplus);
    return surplus.map((row) => row.uid);
  }

  /** Remembers that these session ids ended, so a late save cannot re-create them. */
  async markEnded(db: Knex, ids: readonly string[]): Promise<void> {
    if (!ids.length) return;
    const expiresAt = new Date(Date.now() + this.endedRetentionSeconds * 1000);
    await db('oidc_records')
      .insert(ids.map((id) => ({ model: ENDED, id, payload: '{}', expires_at: expiresAt })))
      .onConflict(['model', 'id'])
      .ignore();
  }

  private async endRows(trx: Knex, rows: readonly Pick<SessionRow, 'id' | 'payload'>[]): Promise<void> {
    if (!rows.length) return;
    const grantIds = rows.flatMap((row) => grantIdsOf(row.payload));
    await this.markEnded(trx, rows.map((row) => row.id));
    await trx('oidc_records').where('model', MODEL).whereIn('id', rows.map((row) => row.id)).delete();
    if (grantIds.length) {
      await trx('oidc_records')
        .whereIn('grant_id', grantIds)
        .orWhere((q) => q.where('model', 'Grant').whereIn('id', grantIds))
        .delete();
    }
  }

  /** The engine destroyed a session (logout, or its old id after sign-in). */
  async endSession(id: string): Promise<void> {
    await this.markEnded(this.knex, [id]);
  }

  /** The account's live sessions, most recently active first. */
  async listForAccount(accountId: string): Promise<ActiveSession[]> {
    const rows = (await this.knex('oidc_records')
      .select('uid', 'user_agent', 'ip', 'created_at', 'last_seen_at', 'expires_at')
      .where({ model: MODEL, account_id: accountId })
      .andWhere('expires_at', '>', this.knex.fn.now())
      .orderBy('last_seen_at', 'desc')) as SessionRow[];
    return rows.map((row) => ({
      uid: row.uid,
      userAgent: row.user_agent ?? undefined,
      ip: row.ip ?? undefined,
      startedAt: new Date(row.created_at),
      lastSeenAt: new Date(row.last_seen_at ?? row.created_at),
      expiresAt: row.expires_at ? new Date(row.expires_at) : undefined,
    }));
  }

  /** Ends one of the account's sessions; false if it has no such session. */
  async end(accountId: string, uid: string): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      const rows = (await trx('oidc_records').select('id', 'payload').where({ model: MODEL, account_id: accountId, uid })) as SessionRow[];
      await this.endRows(trx, rows);
      return rows.length > 0;
    });
  }

  /**
   * Ends every session of the account and revokes every grant it holds — with them its refresh
   * tokens and recorded access tokens — including grants whose session has already expired
   * (offline access). Used when an operator resets the password: whoever knew the old one
   * keeps nothing.
   */
  async endAllAndRevokeGrants(accountId: string): Promise<{ sessions: number; grants: number }> {
    return this.knex.transaction(async (trx) => {
      const grants = (await trx('oidc_records')
        .select('id')
        .where('model', 'Grant')
        .andWhereRaw("payload->>'accountId' = ?", [accountId])) as { id: string }[];
      const grantIds = grants.map((grant) => grant.id);
      const sessions = (await trx('oidc_records').select('id', 'payload').where({ model: MODEL, account_id: accountId })) as SessionRow[];
      await this.endRows(trx, sessions);
      if (grantIds.length) {
        await trx('oidc_records')
          .whereIn('grant_id', grantIds)
          .orWhere((q) => q.where('model', 'Grant').whereIn('id', grantIds))
          .delete();
      }
      return { sessions: sessions.length, grants: grantIds.length };
    });
  }

  /** Ends every session of the account except `keepUid`; returns how many ended. */
  async endOthers(accountId: string, keepUid: string | undefined): Promise<number> {
    return this.knex.transaction(async (trx) => {
      const query = trx('oidc_records').select('id', 'payload').where({ model: MODEL, account_id: accountId });
      if (keepUid) query.andWhereNot('uid', keepUid);
      const rows = (await query) as SessionRow[];
      await this.endRows(trx, rows);
      return rows.length;
    });
  }
}
