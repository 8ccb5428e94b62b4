import type { Knex } from 'knex';

/**
 * API-1: the table rate-limiter-flexible keeps its counters in (its own schema, created here so
 * replicas starting together do not race to create it).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE IF NOT EXISTS gatehouse_rate_limits (
    key varchar(255) PRIMARY KEY,
    points integer NOT NULL DEFAULT 0,
    expire bigint
  )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('gatehouse_rate_limits');
}
