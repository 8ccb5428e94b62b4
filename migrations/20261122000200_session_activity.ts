import type { Knex } from 'knex';

/** SESS-9: what a person needs to recognise a session — device, network, last activity. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oidc_records', (t) => {
    t.text('user_agent');
    t.text('ip');
    t.timestamp('last_seen_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oidc_records', (t) => {
    t.dropColumn('user_agent');
    t.dropColumn('ip');
    t.dropColumn('last_seen_at');
  });
}
