/**
 * Applies migrations/ with knex. Enforces: on PostgreSQL, replicas starting together migrate
 * once (a transaction-scoped advisory lock serialises them; the others then find nothing to do).
 */
import type { Knex } from 'knex';
import { migrations, type Migration } from '../../migrations/index.js';
import type { Database } from './index.js';

// An arbitrary constant shared by every Gatehouse process.
const MIGRATION_LOCK_KEY = 0x6761_7465;

class ListedMigrationSource implements Knex.MigrationSource<Migration> {
  async getMigrations(): Promise<Migration[]> {
    return [...migrations];
  }
  getMigrationName(migration: Migration): string {
    return migration.name;
  }
  async getMigration(migration: Migration): Promise<Knex.Migration> {
    return migration;
  }
}

const migrationConfig: Knex.MigratorConfig = {
  migrationSource: new ListedMigrationSource(),
  tableName: 'gatehouse_migrations',
};

export interface MigrationResult {
  readonly applied: readonly string[];
}

export async function migrateToLatest(db: Database): Promise<MigrationResult> {
  if (db.kind === 'embedded') {
    const [, applied] = (await db.knex.migrate.latest(migrationConfig)) as [number, string[]];
    return { applied };
  }
  // The lock is held by this transaction's connection while the migrator uses others.
  return db.knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    const [, applied] = (await db.knex.migrate.latest(migrationConfig)) as [number, string[]];
    return { applied };
  });
}

/** Names of migrations not yet applied (empty when the schema is current). */
export async function pendingMigrations(db: Database): Promise<string[]> {
  const [, pending] = (await db.knex.migrate.list(migrationConfig)) as [unknown[], Migration[]];
  return pending.map((migration) => migration.name ?? String(migration));
}

/** A command that needs the current schema found migrations not applied. */
export class NotMigratedError extends Error {
  constructor(readonly pending: readonly string[]) {
    super(
      pending.length === migrations.length
        ? 'the database has no Gatehouse schema yet: run `gatehouse migrate` (or start the server, which migrates)'
        : `the database schema is behind this version of Gatehouse (${pending.length} migration${pending.length === 1 ? '' : 's'} pending): run \`gatehouse migrate\` (or start the server, which migrates)`,
    );
    this.name = 'NotMigratedError';
  }

  /** For a database that does not exist yet. */
  static nothingApplied(): NotMigratedError {
    return new NotMigratedError(migrations.map((migration) => migration.name));
  }
}

/** Refuses to work on a schema that is missing or behind: only `migrate` and the server change it. */
export async function requireCurrentSchema(db: Database): Promise<void> {
  const pending = await pendingMigrations(db);
  if (pending.length) throw new NotMigratedError(pending);
}
