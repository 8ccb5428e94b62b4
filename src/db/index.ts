/**
 * knex wiring: a pooled `pg` client for DATABASE_URL, or PGlite persisted in the data
 * directory. Both speak PostgreSQL, so migrations and queries are shared. Enforces: one
 * process at a time on an embedded data directory (PGlite is single-process).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import type { Logger } from 'pino';
import { knexLog } from './knex-log.js';
import type { Config } from '../config/index.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { assertDatabaseReachable } from './reachability.js';

export type DatabaseKind = 'postgres' | 'embedded';

export interface Database {
  readonly knex: Knex;
  readonly kind: DatabaseKind;
  /** Connection settings for a dedicated LISTEN connection (postgres only). */
  readonly connectionString: string | undefined;
  close(): Promise<void>;
}

// Bigint counts (e.g. count(*)) arrive as strings by default; they are small here.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/** `logger` receives knex's own warnings and errors as JSON lines (otherwise knex writes to the console). */
export async function openDatabase(database: Config['database'], logger?: Logger): Promise<Database> {
  const log = logger ? { log: knexLog(logger) } : {};
  if (database.kind === 'postgres') {
    await assertDatabaseReachable(database.url);
    const knex = knexFactory({
      ...log,
      // An error message keeps the SQL with its placeholders: bound values never reach a log line.
      compileSqlOnError: false,
      client: 'pg',
      connection: database.url,
      pool: { min: 0, max: database.poolMax },
      acquireConnectionTimeout: 10_000,
    });
    return { knex, kind: 'postgres', connectionString: database.url, close: () => knex.destroy() };
  }
  return openEmbedded(database.dataDir, logger);
}

/** An embedded database; `dataDir` undefined means in memory (tests). */
export async function openEmbedded(dataDir: string | undefined, logger?: Logger): Promise<Database> {
  let lock: DataDirLock | undefined;
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    lock = acquireDataDirLock(path.dirname(dataDir));
  }
  try {
    const pglite = new PGlite(dataDir);
    await pglite.waitReady;
    const knex = knexFactory({
      ...(logger ? { log: knexLog(logger) } : {}),
      compileSqlOnError: false,
      client: ClientPgLite as unknown as typeof Knex.Client,
      dialect: 'postgres',
      // knex-pglite accepts a factory returning an existing instance (see its README).
      connection: () => ({ pglite }) as object,
    } as Knex.Config);
    return {
      knex,
      kind: 'embedded',
      connectionString: undefined,
      async close() {
        await knex.destroy();
        if (!pglite.closed) await pglite.close();
        lock?.release();
      },
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
}
