/**
 * Opens the database and builds the domain services on it. Shared by the server and the CLI so
 * both run the same code against the same tables.
 */
import type { Logger } from 'pino';
import { AccountStore } from './accounts/store.js';
import { createAdapterFactory } from './adapter/index.js';
import { OidcRecords } from './adapter/records.js';
import { ResourceServerStore } from './apis/store.js';
import { ClientStore } from './clients/store.js';
import type { Config } from './config/index.js';
import { resolveMasterSecret, wrongMasterSecret } from './config/master-secret-file.js';
import { NotifyOnlyChangeFeed, openChangeFeed, type ChangeFeed } from './db/change-feed.js';
import { openDatabase, type Database } from './db/index.js';
import { migrateToLatest, requireCurrentSchema } from './db/migrate.js';
import { SigningKeyStore } from './keys/store.js';
import { SessionStore } from './sessions/store.js';
import { providerPages } from './interactions/provider-pages.js';
import { LiveProvider } from './provider/live.js';
import { MasterSecret } from './security/master-secret.js';
import { RateLimits } from './security/rate-limits.js';
import type { Metrics } from './observability/metrics.js';
import { StructuredTokens } from './provider/structured-tokens.js';
import { ClientCertificates } from './tls/client-certificates.js';
import { InitialAccessTokenStore } from './registration/initial-access-tokens.js';
import { ClientRegistrations } from './registration/registered-clients.js';
import { registrationAccessTokenAdapter } from './registration/registration-access-tokens.js';
import { SecondFactorStore } from './mfa/store.js';
import { InteractionStates } from './mfa/interaction-states.js';
import { PasskeyStore } from './mfa/passkeys.js';

export interface Services {
  readonly config: Config;
  readonly db: Database;
  readonly feed: ChangeFeed;
  readonly secret: MasterSecret;
  readonly records: OidcRecords;
  readonly keys: SigningKeyStore;
  readonly clients: ClientStore;
  readonly resourceServers: ResourceServerStore;
  readonly accounts: AccountStore;
  readonly sessions: SessionStore;
  readonly rateLimits: RateLimits;
  readonly initialAccessTokens: InitialAccessTokenStore;
  /** Migrations this open applied (OpenOptions.migrate). */
  readonly migrationsApplied: readonly string[];
  /** MFA-2: authenticator apps and recovery codes. */
  readonly factors: SecondFactorStore;
  /** What an unfinished sign-in has proven so far, per interaction. */
  readonly interactionStates: InteractionStates;
  /** MFA-1: WebAuthn credentials. */
  readonly passkeys: PasskeyStore;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly logger: Logger;
  /** Long-running processes listen for changes; the CLI only announces its own. */
  readonly listen: boolean;
  /** Apply pending migrations (server, `gatehouse migrate`); otherwise a schema behind is refused. */
  readonly migrate: boolean;
}

export async function openServices(config: Config, options: OpenOptions): Promise<Services> {
  const db = await openDatabase(config.database, options.logger);
  try {
    let migrationsApplied: readonly string[] = [];
    if (options.migrate) {
      const { applied } = await migrateToLatest(db);
      migrationsApplied = applied;
      if (applied.length) options.logger.info({ applied }, 'database migrated');
    } else {
      await requireCurrentSchema(db);
    }
    const { secret, generatedAt } = await resolveMasterSecret(config, { any: () => SigningKeyStore.anyStored(db.knex) });
    if (generatedAt) {
      options.logger.warn(
        { file: generatedAt },
        'GATEHOUSE_SECRET is not set: generated one for the embedded database. Back it up; set GATEHOUSE_SECRET in production.',
      );
    }
    const masterSecret = new MasterSecret(secret);
    const keys = new SigningKeyStore(db.knex, masterSecret);
    if ((await keys.opensStoredKeys()) === false) throw wrongMasterSecret(config);
    const feed: ChangeFeed = options.listen
      ? await openChangeFeed(db, (error) => options.logger.warn({ err: error }, 'change feed connection lost'))
      : db.kind === 'postgres'
        ? new NotifyOnlyChangeFeed(db.knex)
        : await openChangeFeed(db, () => undefined);
    const rateLimits = RateLimits.create(config, db, options.logger);
    return {
      config,
      db,
      feed,
      secret: masterSecret,
      records: new OidcRecords(db.knex, config.storage.expiredRecordGrace),
      keys,
      clients: new ClientStore(db.knex, masterSecret, feed),
      resourceServers: new ResourceServerStore(db.knex, feed),
      accounts: new AccountStore(db.knex, feed),
      sessions: new SessionStore(db.knex, config.sessions.maxPerAccount, config.ttl.sessionMaxAge),
      rateLimits,
      initialAccessTokens: new InitialAccessTokenStore(db.knex, masterSecret),
      migrationsApplied,
      factors: new SecondFactorStore(db.knex, masterSecret),
      interactionStates: new InteractionStates(db.knex),
      passkeys: new PasskeyStore(db.knex),
      async close() {
        await rateLimits.close();
        await feed.close();
        await db.close();
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** The provider over these services (its keys are created first if this is a new database). */
export interface ProviderParts {
  readonly live: LiveProvider;
  readonly structuredTokens: StructuredTokens;
}

export async function buildLiveProvider(services: Services, logger: Logger, metrics?: Metrics): Promise<ProviderParts> {
  const created = await services.keys.ensureInitialKeys();
  if (created.length) logger.info({ kids: created }, 'signing and cookie keys created');
  // The adapter verifies our own JWTs with the keys of whichever provider instance is current.
  let live: LiveProvider | undefined;
  const structuredTokens = new StructuredTokens(services.config.issuer, () => live?.publicJwks ?? [], services.records);
  live = await LiveProvider.create({
    config: services.config,
    structuredTokens,
    adapter: createAdapterFactory({
      records: services.records,
      clients: services.clients,
      sessions: services.sessions,
      structuredTokens,
      // FLOW-11: what the registration endpoints write, and the tokens that guard them.
      ...(services.config.registration.mode !== 'off'
        ? {
            clientWriter: new ClientRegistrations(services.clients, services.initialAccessTokens, services.config.registration),
            ownAdapters: new Map([
              ['InitialAccessToken', services.initialAccessTokens.engineAdapter()],
              ['RegistrationAccessToken', registrationAccessTokenAdapter(services.records, services.secret)],
            ]),
          }
        : {}),
    }),
    accounts: services.accounts,
    resourceServers: services.resourceServers,
    pages: providerPages,
    dpopNonceSecret: services.secret.dpopNonceSecret(),
    factors: services.factors,
    keys: services.keys,
    clients: services.clients,
    feed: services.feed,
    logger,
    ...(metrics ? { metrics } : {}),
    ...(services.config.mtls ? { clientCertificates: new ClientCertificates(services.config.mtls, logger) } : {}),
  });
  return { live, structuredTokens };
}
