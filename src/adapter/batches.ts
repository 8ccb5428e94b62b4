/**
 * The hot reads and writes of `oidc_records`, gathered into one statement per event-loop turn.
 * Under load many token requests find or write a record in the same turn (introspection alone
 * looks a token up as three models at once); one statement for all of them saves a round trip,
 * a parse and, for writes, a commit per request. Every caller still waits for its own result,
 * after the statement (and for writes, its commit) has finished — nothing is acknowledged early.
 * At low load a batch holds one request and runs as soon as the current turn's I/O is handled.
 */
import DataLoader from 'dataloader';
import type { Knex } from 'knex';

export interface RecordKey {
  readonly model: string;
  readonly id: string;
}

export interface RecordRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
}

export interface RecordWrite extends RecordKey {
  readonly payload: Record<string, unknown>;
  readonly grantId: string | null;
  readonly expiresAt: Date | null;
}

// Bindings are always passed separately; the batch forms travel as one JSON document.
const FIND_ONE = `SELECT payload, consumed_at FROM oidc_records
  WHERE model = ? AND id = ? AND (expires_at IS NULL OR expires_at > now() - make_interval(secs => ?))
  LIMIT 1`;
const FIND_MANY = `SELECT r.model, r.id, r.payload, r.consumed_at
  FROM oidc_records r
  WHERE (r.model, r.id) IN (SELECT k.model, k.id FROM jsonb_to_recordset(?::jsonb) AS k(model text, id text))
    AND (r.expires_at IS NULL OR r.expires_at > now() - make_interval(secs => ?))`;
const ON_CONFLICT = `ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
    user_code = excluded.user_code, expires_at = excluded.expires_at`;
const WRITE_ONE = `INSERT INTO oidc_records (model, id, payload, grant_id, user_code, expires_at)
  VALUES (?, ?, ?::jsonb, ?, NULL, ?) ${ON_CONFLICT}`;
const WRITE_MANY = `INSERT INTO oidc_records (model, id, payload, grant_id, user_code, expires_at)
  SELECT w.model, w.id, w.payload, w.grant_id, NULL, w.expires_at
  FROM jsonb_to_recordset(?::jsonb) AS w(model text, id text, payload jsonb, grant_id text, expires_at timestamptz)
  ${ON_CONFLICT}`;

/** Most keys one statement carries; a larger turn is split. */
const MAX_BATCH = 200;

const keyOf = (key: RecordKey) => `${key.model}\u0000${key.id}`;

/** Runs a batch after the I/O callbacks of the current event-loop turn have queued their work. */
const afterThisTurn = (run: () => void) => void setImmediate(run);

export class RecordBatches {
  readonly #reads: DataLoader<RecordKey, RecordRow | undefined>;
  readonly #writes: DataLoader<RecordWrite, true>;

  constructor(
    private readonly knex: Knex,
    private readonly graceSeconds: number,
  ) {
    const options = { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: afterThisTurn } as const;
    this.#reads = new DataLoader((keys) => this.#findMany(keys), options);
    this.#writes = new DataLoader((writes) => this.#writeMany(writes), options);
  }

  find(model: string, id: string): Promise<RecordRow | undefined> {
    return this.#reads.load({ model, id });
  }

  write(record: RecordWrite): Promise<true> {
    return this.#writes.load(record);
  }

  async #findMany(keys: readonly RecordKey[]): Promise<(RecordRow | undefined)[]> {
    if (keys.length === 1) {
      const [only] = keys as [RecordKey];
      const { rows } = (await this.knex.raw(FIND_ONE, [only.model, only.id, this.graceSeconds])) as { rows: RecordRow[] };
      return [rows[0]];
    }
    const wanted = keys.map(({ model, id }) => ({ model, id }));
    const { rows } = (await this.knex.raw(FIND_MANY, [JSON.stringify(wanted), this.graceSeconds])) as {
      rows: (RecordRow & RecordKey)[];
    };
    const found = new Map(rows.map((row) => [keyOf(row), { payload: row.payload, consumed_at: row.consumed_at }]));
    return keys.map((key) => found.get(keyOf(key)));
  }

  async #writeMany(writes: readonly RecordWrite[]): Promise<true[]> {
    if (writes.length === 1) {
      const [only] = writes as [RecordWrite];
      await this.knex.raw(WRITE_ONE, [only.model, only.id, JSON.stringify(only.payload), only.grantId, only.expiresAt]);
      return [true];
    }
    // One statement may not update a row twice: the turn's last write of a record wins, as it
    // would have had the writes run one after another.
    const latest = new Map(writes.map((write) => [keyOf(write), write]));
    const rows = [...latest.values()].map((write) => ({
      model: write.model,
      id: write.id,
      payload: write.payload,
      grant_id: write.grantId,
      expires_at: write.expiresAt?.toISOString() ?? null,
    }));
    await this.knex.raw(WRITE_MANY, [JSON.stringify(rows)]);
    return writes.map(() => true);
  }
}
