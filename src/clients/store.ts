/**
 * ClientStore: registered clients in the `clients` table. Enforces: the client secret is kept
 * only as a keyed hash, every change notifies all processes, and the token endpoint reads
 * client metadata from memory (a per-process cache, invalidated by the change feed).
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { AdapterPayload } from 'oidc-provider';
import type { ChangeFeed } from '../db/change-feed.js';
import type { MasterSecret } from '../security/master-secret.js';
import { pkceOptedOut, requiresSecret, type ClientMetadata } from './schema.js';
import { webOriginsOf } from '../security/cors.js';
import { VerifiedSecrets } from './verified-secrets.js';

interface ClientRow {
  client_id: string;
  metadata: Omit<ClientMetadata, 'client_secret'>;
  secret_hash: string | null;
  created_at: Date;
  updated_at: Date;
  /** Set for clients that registered themselves (FLOW-11, RFC 7591); null for imported ones. */
  registered_at: Date | null;
  initial_access_token_id: string | null;
}

export interface ClientSummary {
  readonly clientId: string;
  readonly clientName: string | undefined;
  readonly grantTypes: readonly string[];
  readonly authMethod: string;
  readonly scope: string | undefined;
  readonly redirectUris: readonly string[];
  readonly updatedAt: Date;
  /** False only for a confidential client that opted out of PKCE (FLOW-1). */
  readonly pkceRequired: boolean;
  /** `registration`: the client registered itself (RFC 7591); `operator`: imported by the CLI or admin API. */
  readonly origin: 'operator' | 'registration';
  readonly registeredAt?: Date;
}

/** A write from the registration endpoints (RFC 7591 / 7592); see src/registration. */
export interface RegisteredClientWrite {
  readonly clientId: string;
  readonly metadata: Omit<ClientMetadata, 'client_secret'>;
  /** A new plaintext secret to hash, the stored hash to keep, or none (a client without a secret). */
  readonly secret: { readonly plaintext: string } | { readonly keep: true } | undefined;
  readonly issuedAt: Date;
  /**
   * Spends a use of the initial access token the registration came with, inside the write's
   * transaction (its failure undoes the write); resolves to the token's id.
   */
  readonly spendInitialAccessToken?: (trx: Knex.Transaction) => Promise<string>;
}

export interface SavedClient {
  readonly clientId: string;
  readonly created: boolean;
  /** Present only when Gatehouse generated the secret now: shown once, never stored. */
  readonly generatedSecret?: string;
}

// Static metadata rarely changes and every change is announced; the TTL only bounds the damage
// of a missed notice.
const CACHE_TTL_MS = 5 * 60_000;
// Unknown client ids are cached too (they cost a query each otherwise); the bound keeps random
// ids from growing memory without limit.
const CACHE_MAX_ENTRIES = 10_000;

export class ClientStore {
  readonly #cache = new Map<string, { payload: AdapterPayload | undefined; at: number }>();
  // Bumped on every invalidation: a load that started before one must not re-cache old data.
  #generation = 0;
  #webOrigins: Promise<ReadonlySet<string>> | undefined;
  readonly #verified = new VerifiedSecrets();

  constructor(
    private readonly knex: Knex,
    private readonly secret: MasterSecret,
    private readonly feed: ChangeFeed,
  ) {
    feed.subscribe((topic, key) => {
      if (topic !== '*' && topic !== 'clients') return;
      this.#generation += 1;
      this.#webOrigins = undefined;
      this.#verified.forgetAll();
      if (topic === '*' || !key) this.#cache.clear();
      else this.#cache.delete(key);
    });
  }

  /** The provider's view of a client: metadata plus the secret hash in `client_secret`. */
  async find(clientId: string): Promise<AdapterPayload | undefined> {
    if (clientId.includes('\u0000')) return undefined;
    const cached = this.#cache.get(clientId);
    if (cached && Date.now() - cached.at < CACHE_TTL_MS) return cached.payload;
    const generation = this.#generation;
    const row = (await this.knex<ClientRow>('clients').where('client_id', clientId).first()) as ClientRow | undefined;
    const payload = row ? ClientStore.providerView(row) : undefined;
    if (generation === this.#generation) {
      this.#cache.delete(clientId);
      this.#cache.set(clientId, { payload, at: Date.now() });
      // Map iteration is insertion order: the first key is the least recently loaded.
      if (this.#cache.size > CACHE_MAX_ENTRIES) this.#cache.delete(this.#cache.keys().next().value as string);
    }
    return payload;
  }

  private static providerView(row: ClientRow): AdapterPayload {
    return {
      ...row.metadata,
      ...(row.secret_hash ? { client_secret: row.secret_hash } : {}),
      // Only registered clients carry these (RFC 7591); the engine lets only them be managed at /reg.
      ...(row.registered_at
        ? { client_id_issued_at: Math.floor(new Date(row.registered_at).getTime() / 1000), ...(row.secret_hash ? { client_secret_expires_at: 0 } : {}) }
        : {}),
    } as AdapterPayload;
  }

  /** Every web origin any client registered (NET-4), held in memory until clients change. */
  webOrigins(): Promise<ReadonlySet<string>> {
    if (!this.#webOrigins) {
      const loading = this.knex('clients')
        .select(this.knex.raw("metadata->'redirect_uris' AS redirect_uris"))
        .then((rows: { redirect_uris: string[] | null }[]) => new Set(rows.flatMap((row) => webOriginsOf(row.redirect_uris ?? []))));
      loading.catch(() => {
        if (this.#webOrigins === loading) this.#webOrigins = undefined;
      });
      this.#webOrigins = loading;
    }
    return this.#webOrigins;
  }

  verifySecret(presented: string, storedHash: string): boolean {
    if (this.#verified.matches(storedHash, presented)) return true;
    const matched = this.secret.verifyClientSecret(presented, storedHash);
    if (matched) this.#verified.remember(storedHash, presented);
    return matched;
  }

  /** Upserts validated clients atomically: all or none. */
  async saveAll(clients: readonly ClientMetadata[]): Promise<SavedClient[]> {
    const saved = await this.knex.transaction(async (trx) => {
      const results: SavedClient[] = [];
      for (const client of clients) {
        const { client_secret: presented, ...metadata } = client;
        const existing = (await trx<ClientRow>('clients').where('client_id', client.client_id).first()) as ClientRow | undefined;
        let secretHash: string | null = null;
        let generatedSecret: string | undefined;
        if (requiresSecret(client)) {
          if (presented) secretHash = this.secret.hashClientSecret(presented);
          else if (existing?.secret_hash) secretHash = existing.secret_hash;
          else {
            generatedSecret = randomBytes(32).toString('base64url');
            secretHash = this.secret.hashClientSecret(generatedSecret);
          }
        }
        await trx('clients')
          .insert({ client_id: client.client_id, metadata: JSON.stringify(metadata), secret_hash: secretHash, updated_at: trx.fn.now(), registered_at: null, initial_access_token_id: null })
          .onConflict('client_id')
          .merge(['metadata', 'secret_hash', 'updated_at', 'registered_at', 'initial_access_token_id']);
        // An operator who imports over a registered client takes it over: its registration access token stops working.
        if (existing?.registered_at) await trx('oidc_records').where('model', 'RegistrationAccessToken').whereRaw("payload->>'clientId' = ?", [client.client_id]).delete();
        results.push({ clientId: client.client_id, created: !existing, ...(generatedSecret ? { generatedSecret } : {}) });
      }
      return results;
    });
    await Promise.all(saved.map((client) => this.feed.publish('clients', client.clientId)));
    return saved;
  }

  /** A client's registered metadata, without any secret. */
  async metadata(clientId: string): Promise<Omit<ClientMetadata, 'client_secret'> | undefined> {
    if (clientId.includes('\u0000')) return undefined;
    const row = (await this.knex<ClientRow>('clients').where('client_id', clientId).first()) as ClientRow | undefined;
    return row?.metadata;
  }

  async list(): Promise<ClientSummary[]> {
    const rows = (await this.knex<ClientRow>('clients').select('*').orderBy('client_id')) as ClientRow[];
    return rows.map((row) => ({
      clientId: row.client_id,
      clientName: row.metadata.client_name,
      grantTypes: row.metadata.grant_types ?? [],
      authMethod: row.metadata.token_endpoint_auth_method ?? 'client_secret_basic',
      scope: row.metadata.scope,
      redirectUris: row.metadata.redirect_uris ?? [],
      updatedAt: new Date(row.updated_at),
      pkceRequired: !pkceOptedOut(row.metadata),
      origin: row.registered_at ? ('registration' as const) : ('operator' as const),
      ...(row.registered_at ? { registeredAt: new Date(row.registered_at) } : {}),
    }));
  }

  /** Creates or updates a client that registered itself; only a registered client is ever updated this way. */
  async saveRegistered(write: RegisteredClientWrite, created: boolean): Promise<void> {
    await this.knex.transaction(async (trx) => {
      const metadata = JSON.stringify(write.metadata);
      if (created) {
        const initialAccessTokenId = await write.spendInitialAccessToken?.(trx);
        await trx('clients').insert({
          client_id: write.clientId,
          metadata,
          secret_hash: write.secret && 'plaintext' in write.secret ? this.secret.hashClientSecret(write.secret.plaintext) : null,
          registered_at: write.issuedAt,
          initial_access_token_id: initialAccessTokenId ?? null,
        });
      } else {
        const changes: Record<string, unknown> = { metadata, updated_at: trx.fn.now() };
        if (!write.secret) changes['secret_hash'] = null;
        else if ('plaintext' in write.secret) changes['secret_hash'] = this.secret.hashClientSecret(write.secret.plaintext);
        // `returning`, not the affected-row count: the count's shape differs between pg and PGlite.
        const updated = await trx('clients').where('client_id', write.clientId).whereNotNull('registered_at').update(changes).returning('client_id');
        if (updated.length !== 1) throw new Error('the registered client no longer exists');
      }
    });
    await this.feed.publish('clients', write.clientId);
  }

  /** Deletes a client and every artefact issued to it; `registeredOnly`: only a self-registered one (RFC 7592). */
  async delete(clientId: string, { registeredOnly = false } = {}): Promise<boolean> {
    // The deleted rows, not a count: knex's count is a number on pg but a result object on PGlite.
    const deleted = await this.knex.transaction(async (trx) => {
      const query = trx('clients').where('client_id', clientId);
      const rows = await (registeredOnly ? query.whereNotNull('registered_at') : query).delete().returning('client_id');
      if (rows.length) await trx('oidc_records').whereRaw("payload->>'clientId' = ?", [clientId]).delete();
      return rows.length > 0;
    });
    await this.feed.publish('clients', clientId);
    return deleted;
  }
}
