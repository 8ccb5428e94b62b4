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
import { FIND_RECORDS, HotStatements, WRITE_RECORDS } from '../db/hot-statements.js';

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
// planned once per connection, called through prepared statements (src/db/hot-statements.ts);
// a batch travels as one bound JSON document.

/** Most keys one statement carries; a larger turn is split. */
const MAX_BATCH = 200;

const keyOf = (key: RecordKey) => `${key.model}\u0000${key.id}`;
const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));

/** Runs a batch after the I/O callbacks of the current event-loop turn have queued their work. */
const afterThisTurn = (run: () => void) => void setImmediate(run);

export class RecordBatches {
  readonly #reads: DataLoader<RecordKey, RecordRow | undefined>;
  readonly #writes: DataLoader<RecordWrite, true>;
  readonly #statements: HotStatements;

  constructor(
    knex: Knex,
    private readonly graceSeconds: number,
  ) {
    this.#statements = new HotStatements(knex);
    const options = { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: afterThisTurn } as const;
    this.#reads = new DataLoader<RecordKey, RecordRow | undefined>((keys) => this.#findMany(keys), options);
    this.#writes = new DataLoader<RecordWrite, true>((writes) => this.#writeMany(writes), options);
  }

  find(model: string, id: string): Promise<RecordRow | undefined> {
    return this.#reads.load({ model, id });
  }

  write(record: RecordWrite): Promise<true> {
    return this.#writes.load(record);
  }

  async #findMany(keys: readonly RecordKey[]): Promise<(RecordRow | undefined | Error)[]> {
    try {
      return await this.#findAll(keys);
    } catch (error) {
      if (keys.length === 1) throw error;
      // The statement failed for everyone in the batch: ask one by one, so that only a look-up
      // that fails on its own fails.
      return Promise.all(keys.map((key) => this.#findAll([key]).then(([row]) => row, asError)));
    }
  }

  async #findAll(keys: readonly RecordKey[]): Promise<(RecordRow | undefined)[]> {
    const wanted = keys.map(({ model, id }) => ({ model, id }));
    const rows = await this.#statements.run(FIND_RECORDS, [JSON.stringify(wanted), this.graceSeconds]);
    const found = new Map(rows.map((row) => [keyOf(row), { payload: row.payload, consumed_at: row.consumed_at }]));
    return keys.map((key) => found.get(keyOf(key)));
  }

  async #writeMany(writes: readonly RecordWrite[]): Promise<(true | Error)[]> {
    try {
      await this.#writeAll(writes);
      return writes.map(() => true);
    } catch (error) {
      if (writes.length === 1) throw error;
      // As for look-ups, one by one — in arrival order, so the last write of a record still wins.
      const results: (true | Error)[] = [];
      for (const write of writes) results.push(await this.#writeAll([write]).then(() => true as const, asError));
      return results;
    }
  }

  async #writeAll(writes: readonly RecordWrite[]): Promise<void> {
    // One statement may not update a row twice: the turn's last write of a record wins, as it
    // would have had the writes run one after another. Rows go in key order, so two batches
    // (on two connections or replicas) lock the records they share in the same order.
    const latest = new Map(writes.map((write) => [keyOf(write), write]));
    const rows = [...latest.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, write]) => ({
        model: write.model,
        id: write.id,
        payload: write.payload,
        grant_id: write.grantId,
        expires_at: write.expiresAt?.toISOString() ?? null,
      }));
    await this.#statements.run(WRITE_RECORDS, [JSON.stringify(rows)]);
  }
}
