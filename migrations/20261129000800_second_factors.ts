import type { Knex } from 'knex';

/**
 * MFA-1, MFA-2: second factors and the short-lived sign-in state that binds them to an
 * interaction.
 * - `totp_factors`: one authenticator app per account. The secret is sealed with the master
 *   secret (AES-256-GCM, bound to the account); `confirmed_at` is null while enrolment waits for
 *   its first code; `last_used_step` is the RFC 6238 time step of the last accepted code, moved
 *   forward only by a conditional update, so a code is accepted once across every replica.
 * - `recovery_codes`: keyed hashes of one-time codes; `used_at` is set once, conditionally.
 * - `passkeys`: WebAuthn credentials (MFA-1): the credential id, its COSE public key, the
 *   signature counter and backup state the authenticator last reported, a user-given name.
 * - `accounts.mfa_required`: an operator's demand that this user sign in with more than a
 *   password (MFA-3); a user without a second factor sets one up at the next sign-in.
 * - `interaction_states`: what a sign-in has proven so far (a password, a WebAuthn challenge),
 *   keyed by the engine's interaction uid, which only the browser holding that interaction's
 *   cookie can use; single-use and short-lived.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.boolean('mfa_required').notNullable().defaultTo(false);
  });

  await knex.schema.createTable('totp_factors', (t) => {
    t.text('account_id').primary().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('sealed_secret').notNullable();
    t.bigInteger('last_used_step');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('confirmed_at', { useTz: true });
    t.timestamp('last_used_at', { useTz: true });
  });

  await knex.schema.createTable('recovery_codes', (t) => {
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('code_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('used_at', { useTz: true });
    t.primary(['account_id', 'code_hash']);
  });

  await knex.schema.createTable('passkeys', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('public_key').notNullable();
    t.bigInteger('counter').notNullable().defaultTo(0);
    t.jsonb('transports').notNullable().defaultTo('[]');
    t.text('device_type').notNullable();
    t.boolean('backed_up').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.index(['account_id']);
  });
  await knex.raw("ALTER TABLE passkeys ADD CONSTRAINT passkeys_device_type CHECK (device_type IN ('singleDevice', 'multiDevice'))");

  await knex.schema.createTable('interaction_states', (t) => {
    t.text('interaction_uid').notNullable();
    t.text('purpose').notNullable();
    t.text('account_id');
    t.jsonb('payload').notNullable().defaultTo('{}');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['interaction_uid', 'purpose']);
  });
  await knex.raw('CREATE INDEX interaction_states_expires_at ON interaction_states (expires_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('interaction_states');
  await knex.schema.dropTable('passkeys');
  await knex.schema.dropTable('recovery_codes');
  await knex.schema.dropTable('totp_factors');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('mfa_required');
  });
}
