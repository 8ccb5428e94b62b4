/**
 * SQL for oidc-provider's records (table `oidc_records`). Enforces: lookups by indexed keys
 * only, bound parameters only, rows stay readable for a grace period after expiry so the
 * provider can tell "expired" from "not found", and consumption is a conditional update.
 */
import type { Knex } from 'knex';
import { RecordBatches, type RecordRow } from './batches.js';

export type Payload = Record<string, unknown>;

/** Models whose records belong to a grant and die with it. */
export const GRANT_BOUND_MODELS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
  // JWT access tokens are not stored; this record ties one to its grant (src/provider/structured-tokens.ts).
  'IssuedJwtAccessToken',
]);

/** Models whose `consume` redeems something at the token endpoint: a second redemption is reuse. */
export const REDEEMABLE_MODELS = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

// Sessions are written by src/sessions/store.ts (uid, account, activity); everything else here.
const UPSERT_SQL = `INSERT INTO oidc_records (model, id, payload, grant_id, user_code, expires_at)
  VALUES (?, ?, ?::jsonb, ?, ?, ?)
  ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
    user_code = excluded.user_code, expires_at = excluded.expires_at`;


const asString = (value: unknown): string | null => (typeof value === 'string' && value.length ? value : null);

/**
 * PostgreSQL text and jsonb cannot hold U+0000, and jsonb refuses an unpaired UTF-16 surrogate:
 * such a key can name no record, and such a value is refused before it reaches a statement
 * (where, in a batch, it would fail other requests' writes too).
 */
export const isUnstorableText = (value: string) => value.includes('\u0000') || !value.isWellFormed();

/** Whether any key or string anywhere in `payload` is text PostgreSQL cannot store. */
export function payloadHasUnstorableText(payload: unknown): boolean {
  let found = false;
  JSON.stringify(payload, (key: string, value: unknown) => {
    if (isUnstorableText(key) || (typeof value === 'string' && isUnstorableText(value))) found = true;
    return value;
  });
  return found;
}

export class OidcRecords {
  readonly #batches: RecordBatches;

  constructor(
    private readonly knex: Knex,
    private readonly graceSeconds: number,
  ) {
    this.#batches = new RecordBatches(knex, graceSeconds);
  }

  private readable(model: string) {
    return this.knex<RecordRow>('oidc_records')
      .select('payload', 'consumed_at')
      .where('model', model)
      .andWhere((q) =>
        q.whereNull('expires_at').orWhere('expires_at', '>', this.knex.raw("now() - make_interval(secs => ?)", [this.graceSeconds])),
      );
  }

  private static present(row: RecordRow | undefined): Payload | undefined {
    if (!row) return undefined;
    if (!row.consumed_at) return row.payload;
    return { ...row.payload, consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) };
  }

  async upsert(model: string, id: string, payload: Payload, expiresIn: number | undefined): Promise<void> {
    const grantId = GRANT_BOUND_MODELS.has(model) ? asString(payload.grantId) : null;
    const userCode = model === 'DeviceCode' ? asString(payload.userCode) : null;
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    if (userCode) {
      // A device user code is unique: the latest write wins.
      await this.knex.transaction(async (trx) => {
        await trx('oidc_records').where({ model, user_code: userCode }).andWhereNot('id', id).delete();
        await trx.raw(UPSERT_SQL, [model, id, JSON.stringify(payload), grantId, userCode, expiresAt]);
      });
      return;
    }
    await this.#batches.write({ model, id, payload, grantId, expiresAt });
  }

  /** Inserts a record that must not exist yet; false if it already did (a replay). */
  async insertOnce(model: string, id: string, payload: Payload, expiresIn: number | undefined): Promise<boolean> {
    const inserted = await this.knex('oidc_records')
      .insert({ model, id, payload: JSON.stringify(payload), expires_at: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null })
      .onConflict(['model', 'id'])
      .ignore()
      .returning('id');
    return inserted.length === 1;
  }

  async find(model: string, id: string): Promise<Payload | undefined> {
    if (isUnstorableText(id)) return undefined;
    return OidcRecords.present(await this.#batches.find(model, id));
  }

  /** Only records that have not expired: for sessions, whose expiry is the idle timeout (SESS-3). */
  async findLive(model: string, column: 'id' | 'uid', value: string): Promise<Payload | undefined> {
    if (isUnstorableText(value)) return undefined;
    const row = await this.knex<RecordRow>('oidc_records')
      .select('payload', 'consumed_at')
      .where('model', model)
      .andWhere(column, value)
      .andWhere('expires_at', '>', this.knex.fn.now())
      .first();
    return OidcRecords.present(row);
  }

  async findByUserCode(model: string, userCode: string): Promise<Payload | undefined> {
    if (isUnstorableText(userCode)) return undefined;
    return OidcRecords.present(await this.readable(model).andWhere('user_code', userCode).first());
  }

  /** Marks a record consumed; true only for the one caller that actually consumed it. */
  async consume(model: string, id: string): Promise<boolean> {
    if (isUnstorableText(id)) return false;
    // The updated rows, not the driver's count (its shape differs between pg and PGlite).
    const updated = await this.knex('oidc_records')
      .where({ model, id })
      .whereNull('consumed_at')
      .update({ consumed_at: this.knex.fn.now() })
      .returning('id');
    return updated.length === 1;
  }

  async grantIdOf(model: string, id: string): Promise<string | undefined> {
    const row = await this.knex('oidc_records').select('grant_id').where({ model, id }).first();
    return asString(row?.grant_id) ?? undefined;
  }

  async destroy(model: string, id: string): Promise<void> {
    if (isUnstorableText(id)) return;
    await this.knex('oidc_records').where({ model, id }).delete();
  }

  async revokeByGrantId(model: string, grantId: string): Promise<void> {
    if (isUnstorableText(grantId)) return;
    await this.knex('oidc_records').where({ model, grant_id: grantId }).delete();
  }

  /** Ends a grant everywhere: the grant record and every record bound to it. */
  async revokeGrant(grantId: string): Promise<void> {
    await this.knex('oidc_records')
      .where('grant_id', grantId)
      .orWhere((q) => q.where('model', 'Grant').andWhere('id', grantId))
      .delete();
  }

  /** Deletes up to `batchSize` records past their grace period; returns how many. */
  async sweepExpired(batchSize: number): Promise<number> {
    const result = await this.knex.raw(
      `DELETE FROM oidc_records WHERE (model, id) IN (
         SELECT model, id FROM oidc_records
         WHERE expires_at < now() - make_interval(secs => ?)
         LIMIT ?)`,
      [this.graceSeconds, batchSize],
    );
    return (result as { rowCount?: number }).rowCount ?? 0;
  }
}
