import type { Knex } from 'knex';

/**
 * FLOW-10: the OpenID Connect standard claims beyond name and e-mail (given_name … address),
 * validated by src/accounts/claims.ts and kept as one JSON object: the set is fixed by the
 * specification, read whole on every userinfo request and never queried by member.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.jsonb('claims').notNullable().defaultTo('{}');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('claims');
  });
}
