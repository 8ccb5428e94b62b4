/**
 * ResourceServerStore: registered APIs in `resource_servers`. The whole set is small and read
 * on every token request for an API, so it is held in memory and reloaded when the change feed
 * says it changed.
 */
import type { Knex } from 'knex';
import type { ChangeFeed } from '../db/change-feed.js';
import type { ResourceServer } from './schema.js';

interface ResourceServerRow {
  identifier: string;
  name: string;
  scopes: string[];
  token_format: 'jwt' | 'opaque';
  access_token_ttl: number | null;
  signing_alg: 'ES256' | 'RS256';
}

function fromRow(row: ResourceServerRow): ResourceServer {
  return {
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes,
    token_format: row.token_format,
    signing_alg: row.signing_alg,
    ...(row.access_token_ttl ? { access_token_ttl: row.access_token_ttl } : {}),
  };
}

export class ResourceServerStore {
  #all: Promise<ReadonlyMap<string, ResourceServer>> | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly feed: ChangeFeed,
  ) {
    feed.subscribe((topic) => {
      if (topic === '*' || topic === 'resource_servers') this.#all = undefined;
    });
  }

  all(): Promise<ReadonlyMap<string, ResourceServer>> {
    if (!this.#all) {
      const loading = this.knex<ResourceServerRow>('resource_servers')
        .select('*')
        .orderBy('identifier')
        .then((rows) => new Map((rows as ResourceServerRow[]).map((row) => [row.identifier, fromRow(row)])));
      // A failed load must not be cached.
      loading.catch(() => {
        if (this.#all === loading) this.#all = undefined;
      });
      this.#all = loading;
    }
    return this.#all;
  }

  async find(identifier: string): Promise<ResourceServer | undefined> {
    return (await this.all()).get(identifier);
  }

  async saveAll(servers: readonly ResourceServer[]): Promise<{ identifier: string; created: boolean }[]> {
    const results = await this.knex.transaction(async (trx) => {
      const out: { identifier: string; created: boolean }[] = [];
      for (const server of servers) {
        const existing = await trx('resource_servers').where('identifier', server.identifier).first();
        await trx('resource_servers')
          .insert({
            identifier: server.identifier,
            name: server.name,
            scopes: JSON.stringify(server.scopes),
            token_format: server.token_format,
            access_token_ttl: server.access_token_ttl ?? null,
            signing_alg: server.signing_alg,
            updated_at: trx.fn.now(),
          })
          .onConflict('identifier')
          .merge(['name', 'scopes', 'token_format', 'access_token_ttl', 'signing_alg', 'updated_at']);
        out.push({ identifier: server.identifier, created: !existing });
      }
      return out;
    });
    this.#all = undefined;
    await this.feed.publish('resource_servers');
    return results;
  }
}
