import type { Knex } from 'knex';

/**
 * FLOW-11: dynamic client registration. Registered clients live in `clients` like imported ones,
 * marked by when they registered (RFC 7591 `client_id_issued_at`) and with which initial access
 * token. Initial access tokens are kept only as keyed digests, with an expiry and a use count
 * that a conditional update spends exactly once per registration, across replicas.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.timestamp('registered_at', { useTz: true });
    t.text('initial_access_token_id');
  });
  await knex.schema.createTable('initial_access_tokens', (t) => {
    t.text('id').primary();
    t.text('token_digest').notNullable().unique();
    t.text('description');
    t.integer('max_uses').notNullable();
    t.integer('uses').notNullable().defaultTo(0);
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
  });
  await knex.raw('ALTER TABLE initial_access_tokens ADD CONSTRAINT initial_access_tokens_uses CHECK (max_uses >= 1 AND uses >= 0 AND uses <= max_uses)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('initial_access_tokens');
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('registered_at');
    t.dropColumn('initial_access_token_id');
  });
}
