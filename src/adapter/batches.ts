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

// The statements live in PL/pgSQL functions (migrations/20261122000400_record_functions.ts),
// planned once per connection; a batch travels as one bound JSON document.
const FIND = 'SELECT model, id, payload, consumed_at FROM gatehouse_find_records(?::jsonb, ?)';
const WRITE = 'SELECT gatehouse_write_records(?::jsonb)';

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
    const wanted = keys.map(({ model, id }) => ({ model, id }));
    const { rows } = (await this.knex.raw(FIND, [JSON.stringify(wanted), this.graceSeconds])) as { rows: (RecordRow & RecordKey)[] };
    const found = new Map(rows.map((row) => [keyOf(row), { payload: row.payload, consumed_at: row.consumed_at }]));
    return keys.map((key) => found.get(keyOf(key)));
  }

  async #writeMany(writes: readonly RecordWrite[]): Promise<true[]> {
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
    await this.knex.raw(WRITE, [JSON.stringify(rows)]);
    return writes.map(() => true);
  }
}
