/**
 * Tells every process that cached data changed. On PostgreSQL it is LISTEN/NOTIFY on one
 * channel, so a change made by the CLI or another replica reaches this one within moments;
 * embedded mode has one process only, so an in-process emitter suffices. After a lost
 * connection every subscriber is told `*` (flush everything), since notices may have been missed.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Knex } from 'knex';
import type { Database } from './index.js';

export const CHANGE_CHANNEL = 'gatehouse_changes';
const LISTEN_STATEMENT = 'LISTEN gatehouse_changes';

export type ChangeTopic = 'clients' | 'resource_servers' | 'keys' | 'accounts';
export type ChangeListener = (topic: ChangeTopic | '*', key: string) => void;

export interface ChangeFeed {
  publish(topic: ChangeTopic, key?: string): Promise<void>;
  subscribe(listener: ChangeListener): () => void;
  close(): Promise<void>;
}

function parseNotice(payload: string | undefined): [ChangeTopic, string] | undefined {
  if (!payload) return undefined;
  const split = payload.indexOf(':');
  const topic = (split === -1 ? payload : payload.slice(0, split)) as ChangeTopic;
  return [topic, split === -1 ? '' : payload.slice(split + 1)];
}

class LocalChangeFeed implements ChangeFeed {
  protected readonly emitter = new EventEmitter();
  async publish(topic: ChangeTopic, key = ''): Promise<void> {
    this.emitter.emit('change', topic, key);
  }
  subscribe(listener: ChangeListener): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }
  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/** Publishes only: for short-lived processes such as the CLI. */
export class NotifyOnlyChangeFeed extends LocalChangeFeed {
  constructor(protected readonly knex: Knex) {
    super();
  }
  protected async notify(topic: ChangeTopic, key: string): Promise<void> {
    await this.knex.raw('SELECT pg_notify(?, ?)', [CHANGE_CHANNEL, `${topic}:${key}`]);
  }
  override async publish(topic: ChangeTopic, key = ''): Promise<void> {
    await this.notify(topic, key);
    await super.publish(topic, key);
  }
}

class PostgresChangeFeed extends NotifyOnlyChangeFeed {
  #client: pg.Client | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    knex: Knex,
    private readonly connectionString: string,
    private readonly onError: (error: Error) => void,
  ) {
    super(knex);
  }

  // The writer's own process applies its change before publish returns (a request right after
  // a write must see it); the copy that comes back through LISTEN only invalidates again.
  override async publish(topic: ChangeTopic, key = ''): Promise<void> {
    try {
      await this.notify(topic, key);
    } finally {
      // Even when NOTIFY fails after the change was committed, this process must not keep
      // serving what it just replaced.
      this.emitter.emit('change', topic, key);
    }
  }

  async connect(): Promise<void> {
    // keepAlive: a half-open connection must fail loudly, not silently stop delivering notices.
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true });
    client.on('notification', (message) => {
      const notice = parseNotice(message.payload);
      if (notice) this.emitter.emit('change', notice[0], notice[1]);
    });
    client.on('error', (error) => {
      this.onError(error);
      this.reconnectLater();
    });
    try {
      await client.connect();
      await client.query(LISTEN_STATEMENT);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.#client = client;
  }

  private reconnectLater(): void {
    const broken = this.#client;
    this.#client = undefined;
    broken?.end().catch(() => undefined);
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.connect()
        .then(() => this.emitter.emit('change', '*', ''))
        .catch((error: Error) => {
          this.onError(error);
          this.reconnectLater();
        });
    }, 1000);
    this.#retry.unref();
  }

  override async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#client?.end().catch(() => undefined);
    await super.close();
  }
}

export async function openChangeFeed(db: Database, onError: (error: Error) => void): Promise<ChangeFeed> {
  if (db.kind === 'embedded' || !db.connectionString) return new LocalChangeFeed();
  const feed = new PostgresChangeFeed(db.knex, db.connectionString, onError);
  await feed.connect();
  return feed;
}
