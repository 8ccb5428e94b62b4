import type { Knex } from 'knex';

/** Initial schema: oidc-provider artefacts, clients, resource servers, accounts, keys. */
export async function up(knex: Knex): Promise<void> {
  // Every oidc-provider model in one table: the provider addresses records by (model, id),
  // and secondary look-ups (grant, session uid, user code, account) use partial indexes.
  await knex.schema.createTable('oidc_records', (t) => {
    t.text('model').notNullable();
    t.text('id').notNullable();
    t.jsonb('payload').notNullable();
    t.text('grant_id');
    t.text('uid');
    t.text('user_code');
    t.text('account_id');
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('consumed_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['model', 'id']);
  });
  await knex.raw('CREATE INDEX oidc_records_grant_id ON oidc_records (grant_id) WHERE grant_id IS NOT NULL');
  await knex.raw("CREATE UNIQUE INDEX oidc_records_session_uid ON oidc_records (uid) WHERE model = 'Session'");
  await knex.raw("CREATE UNIQUE INDEX oidc_records_user_code ON oidc_records (user_code) WHERE model = 'DeviceCode'");
  await knex.raw("CREATE INDEX oidc_records_session_account ON oidc_records (account_id) WHERE model = 'Session'");
  await knex.raw('CREATE INDEX oidc_records_expires_at ON oidc_records (expires_at) WHERE expires_at IS NOT NULL');

  await knex.schema.createTable('clients', (t) => {
    t.text('client_id').primary();
    // Validated RFC 7591 / OIDC metadata without the secret.
    t.jsonb('metadata').notNullable();
    // Keyed hash of the client secret; the secret itself is never stored.
    t.text('secret_hash');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('resource_servers', (t) => {
    t.text('identifier').primary();
    t.text('name').notNullable();
    t.jsonb('scopes').notNullable();
    t.text('token_format').notNullable();
    t.integer('access_token_ttl');
    t.text('signing_alg').notNullable().defaultTo('ES256');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw("ALTER TABLE resource_servers ADD CONSTRAINT resource_servers_token_format CHECK (token_format IN ('jwt', 'opaque'))");

  await knex.schema.createTable('accounts', (t) => {
    t.text('id').primary();
    t.text('username').notNullable();
    t.text('username_normalized').notNullable().unique();
    t.text('password_hash');
    t.text('email');
    t.boolean('email_verified').notNullable().defaultTo(false);
    t.text('name');
    t.boolean('disabled').notNullable().defaultTo(false);
    t.timestamp('password_changed_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Signing and cookie keys. State is derived from the timestamps (see src/keys/lifecycle.ts).
  await knex.schema.createTable('keys', (t) => {
    t.text('kid').primary();
    t.text('purpose').notNullable();
    t.text('alg').notNullable();
    t.jsonb('public_jwk');
    // AES-256-GCM sealed private JWK (token keys) or secret (cookie keys).
    t.text('sealed_material').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('activates_at', { useTz: true }).notNullable();
  });
  await knex.raw("ALTER TABLE keys ADD CONSTRAINT keys_purpose CHECK (purpose IN ('token', 'cookie'))");
  await knex.raw('CREATE INDEX keys_purpose_alg_activates ON keys (purpose, alg, activates_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('keys');
  await knex.schema.dropTable('accounts');
  await knex.schema.dropTable('resource_servers');
  await knex.schema.dropTable('clients');
  await knex.schema.dropTable('oidc_records');
}
