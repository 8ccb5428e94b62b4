/**
 * The few statements on the token and introspection paths, in one typed place. Like every
 * statement in Gatehouse they take bound parameters, never built strings. On PostgreSQL they run
 * as `pg` named prepared statements on the knex pool's own connections: each connection parses
 * and plans a statement once, then sends only its name and parameters, and the Node side skips
 * knex's query building. PGlite has no `pg` pool, so there they run through `knex.raw` with the
 * same parameters. Domain code keeps using knex; only statements listed here take this path.
 */
import type { Knex } from 'knex';
import type pg from 'pg';
import type { DatabaseKind } from './index.js';

/** A statement with `$1`, `$2`, … parameters, each used once and in order. */
export interface HotStatement<Parameters extends readonly unknown[], Row> {
  /** The prepared statement's name on each connection (unique per text). */
  readonly name: string;
  readonly text: string;
  /** Phantom: what the statement takes and returns (never set). */
  readonly types?: { readonly parameters: Parameters; readonly row: Row };
}

function statement<Parameters extends readonly unknown[], Row>(name: string, text: string): HotStatement<Parameters, Row> {
  const placeholders = [...text.matchAll(/\$(\d+)/g)].map((match) => Number(match[1]));
  if (placeholders.some((n, index) => n !== index + 1)) throw new Error(`${name}: parameters must be $1, $2, … each once, in order`);
  return { name, text };
}

/** `oidc_records` look-ups and writes of one event-loop turn (src/adapter/batches.ts). */
export const FIND_RECORDS = statement<[wanted: string, graceSeconds: number], { model: string; id: string; payload: Record<string, unknown>; consumed_at: Date | null }>(
  'gatehouse_find_records_v1',
  'SELECT model, id, payload, consumed_at FROM gatehouse_find_records($1::jsonb, $2)',
);
export const WRITE_RECORDS = statement<[written: string], Record<string, never>>('gatehouse_write_records_v1', 'SELECT gatehouse_write_records($1::jsonb)');

/** knex's placeholders for the same statement (PGlite, and anything else without a pg pool). */
export const knexText = (text: string): string => text.replace(/\$\d+/g, '?');

// knex's pg client: a pool of pg.Client connections it hands out and takes back.
interface KnexClientPool {
  acquireConnection(): Promise<pg.Client>;
  releaseConnection(connection: pg.Client): Promise<void>;
}

/** Which database a knex instance talks to: openDatabase gives PostgreSQL's the client name `pg`. */
export function kindOf(knex: Knex): DatabaseKind {
  return (knex.client as { config?: { client?: unknown } }).config?.client === 'pg' ? 'postgres' : 'embedded';
}

export class HotStatements {
  readonly #prepared: boolean;

  constructor(
    private readonly knex: Knex,
    kind: DatabaseKind = kindOf(knex),
  ) {
    this.#prepared = kind === 'postgres';
  }

  async run<Parameters extends readonly unknown[], Row>(hot: HotStatement<Parameters, Row>, values: Parameters): Promise<Row[]> {
    if (!this.#prepared) {
      const { rows } = (await this.knex.raw(knexText(hot.text), values as unknown as readonly Knex.RawBinding[])) as { rows: Row[] };
      return rows;
    }
    // Whoever watches knex's statements (tests, debugging) sees these too, as knex would show them.
    if (this.knex.listenerCount('query') > 0) this.knex.emit('query', { sql: hot.text, bindings: values, method: 'raw', prepared: hot.name });
    const pool = this.knex.client as unknown as KnexClientPool;
    const connection = await pool.acquireConnection();
    try {
      const result = await connection.query<Row & pg.QueryResultRow>({ name: hot.name, text: hot.text, values: values as unknown as unknown[] });
      return result.rows;
    } finally {
      await pool.releaseConnection(connection);
    }
  }
}
