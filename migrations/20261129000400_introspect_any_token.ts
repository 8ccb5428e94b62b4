import type { Knex } from 'knex';

/**
 * Issue 13 item 9: introspecting any token becomes a permission (`introspect_any_token`).
 * Before, every confidential client had it. Kept for existing confidential clients that are
 * not registered for any browser flow (no authorization_code grant) — service clients and
 * resource servers, which are the ones that introspect others' tokens — so an upgrade breaks
 * no API. Confidential web applications lose it (they may still introspect their own tokens),
 * as do Gatehouse's built-in `gatehouse-` clients. Public clients never had it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `UPDATE clients
        SET metadata = metadata || jsonb_build_object('introspect_any_token', true), updated_at = now()
      WHERE coalesce(metadata->>'token_endpoint_auth_method', 'client_secret_basic') <> 'none'
        AND NOT jsonb_exists(coalesce(metadata->'grant_types', '["authorization_code"]'::jsonb), 'authorization_code')
        AND left(client_id, 10) <> 'gatehouse-'
        AND NOT jsonb_exists(metadata, 'introspect_any_token')`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`UPDATE clients SET metadata = metadata - 'introspect_any_token' WHERE jsonb_exists(metadata, 'introspect_any_token')`);
}
