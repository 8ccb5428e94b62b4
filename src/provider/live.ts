/**
 * LiveProvider: the running oidc-provider instance, rebuilt in place when what it was built
 * from changes (a key activates or retires, an API is registered). oidc-provider reads its
 * keystore and scopes once, at construction; all other state is in the database, so a fresh
 * instance can take over between two requests without anyone noticing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWK } from 'jose';
import type { Middleware } from 'koa';
import Provider from 'oidc-provider';
import { publicMembers } from '../keys/generate.js';
import type { Metrics } from '../observability/metrics.js';
import type { Logger } from 'pino';
import type { ChangeFeed } from '../db/change-feed.js';
import type { KeyPurpose } from '../keys/lifecycle.js';
import type { SigningKeyStore } from '../keys/store.js';
import type { ClientStore } from '../clients/store.js';
import { providerConfiguration, type ProviderDependencies, type ProviderState } from './configuration.js';
import { clientFormTargets, widenFormAction } from '../security/headers.js';
import { documentCache } from './document-cache.js';
import { reportRacingReplaysAsReplays } from './dpop.js';
import { mtlsEndpointAliases } from './mtls.js';
import { relyingPartyScopesOnly } from './discovery.js';
import { ADMIN_SCOPES } from '../admin/admin-api.js';
import { prepareRegistration } from '../registration/engine.js';
import { isDatabaseUnavailable, outageReporter } from '../db/unavailable.js';
import { answerUnavailable } from '../http/unavailable.js';
import { wantsJson } from '../http/error-boundary.js';

export interface LiveProviderDependencies extends ProviderDependencies {
  readonly keys: SigningKeyStore;
  readonly clients: ClientStore;
  readonly feed: ChangeFeed;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

/** How long a superseded key must keep verifying: the longest life of anything it signed. */
export function keyRetention(deps: Pick<ProviderDependencies, 'config'>, state?: Pick<ProviderState, 'resourceServers'>) {
  const apiTtls = state ? [...state.resourceServers.values()].map((api) => api.access_token_ttl ?? 0) : [];
  const { ttl } = deps.config;
  return (purpose: KeyPurpose) =>
    purpose === 'cookie'
      ? ttl.sessionMaxAge + ttl.interaction
      : // A replica may sign with the old key until its next refresh after the new one activates.
        Math.max(ttl.idToken, ttl.accessToken, ...apiTtls) + deps.config.keys.refreshInterval + 60;
}

function stateFingerprint(state: ProviderState): string {
  return `${state.keyring.fingerprint}|${JSON.stringify([...state.resourceServers.values()])}`;
}

export class LiveProvider {
  #current: Provider;
  #handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  #fingerprint: string;
  #publicJwks: JWK[];
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #refreshing: Promise<void> | undefined;
  #stale = false;
  #edge: Middleware = (_ctx, next) => next();

  private constructor(
    private readonly deps: LiveProviderDependencies,
    state: ProviderState,
  ) {
    this.#current = this.build(state);
    this.#handler = this.#current.callback() as never;
    this.#fingerprint = stateFingerprint(state);
    this.#publicJwks = state.keyring.jwks.map(publicMembers);
  }

  /** Public members of every key the current instance publishes (for verifying our own JWTs). */
  get publicJwks(): readonly JWK[] {
    return this.#publicJwks;
  }

  static async create(deps: LiveProviderDependencies): Promise<LiveProvider> {
    return new LiveProvider(deps, await LiveProvider.loadState(deps));
  }

  static async loadState(deps: LiveProviderDependencies): Promise<ProviderState> {
    const resourceServers = await deps.resourceServers.all();
    const keyring = await deps.keys.loadKeyring(new Date(), keyRetention(deps, { resourceServers }));
    return { keyring, resourceServers };
  }

  get current(): Provider {
    return this.#current;
  }

  /**
   * The host's edge steps (logging, errors, headers, limits, body checks): every instance runs
   * them as its first middleware, so a request to the engine passes one Koa application, not
   * the host's and then the engine's (see src/app.ts).
   */
  useEdge(edge: Middleware): void {
    this.#edge = edge;
  }

  /** Serves a request with the current instance (its composed handler is built once per instance). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.#handler(req, res);
  }

  private build(state: ProviderState): Provider {
    const provider = new Provider(this.deps.config.issuer, providerConfiguration(this.deps, state));
    provider.proxy = this.deps.config.trustProxy;
    // The edge's error boundary answers every error; this only keeps Koa from printing them.
    provider.silent = true;
    // The engine's types list only its own events; Koa's 'error' is the application's.
    (provider as unknown as NodeJS.EventEmitter).on('error', (error: unknown) => this.deps.logger.error({ err: error }, 'request failed outside the error boundary'));
    provider.use((ctx, next) => this.#edge(ctx, next));
    reportRacingReplaysAsReplays(provider);
    const { clients, logger } = this.deps;
    // Client secrets are stored as keyed hashes, so the comparison is ours (constant time).
    const clientPrototype = provider.Client.prototype as unknown as {
      clientSecret?: string;
      compareClientSecret(actual: string): Promise<boolean>;
    };
    clientPrototype.compareClientSecret = async function compareClientSecret(this: { clientSecret?: string }, actual: string) {
      return typeof this.clientSecret === 'string' && clients.verifySecret(actual, this.clientSecret);
    };
    const jwksCacheControl = `public, max-age=${this.deps.config.keys.jwksCacheMaxAge}`;
    // While the database is unreachable the engine's own answer (500 server_error, the error
    // caught inside its route and reported below) becomes 503 + Retry-After,
    // `temporarily_unavailable` or a friendly page (API-5, issue 13 item 2). An outage error the
    // engine lets through reaches the edge's error boundary, which answers the same way.
    const reportOutage = outageReporter(logger);
    provider.use(async (ctx, next) => {
      await next();
      const unavailable = ctx.state['databaseUnavailable'] as Error | undefined;
      if (!unavailable) return;
      reportOutage({ route: ctx.oidc?.route, reason: unavailable.message });
      answerUnavailable(ctx, !wantsJson(ctx.get('accept'), ctx.path));
    });
    provider.use(documentCache(this.deps.config.issuer));
    provider.use(mtlsEndpointAliases(this.deps.config));
    provider.use(relyingPartyScopesOnly(ADMIN_SCOPES));
    provider.use(async (ctx, next) => {
      await next();
      const route = ctx.oidc?.route;
      // Relying parties may cache the key set this long; the key publish delay is at least as long.
      if (route === 'jwks' && ctx.status === 200) ctx.set('Cache-Control', jwksCacheControl);
      // response_mode=form_post answers with a page whose form posts to the client's redirect URI.
      if ((route === 'authorization' || route === 'resume') && ctx.oidc?.client) {
        widenFormAction(ctx, clientFormTargets(ctx.oidc.client, ctx.oidc.params?.['redirect_uri']));
      }
    });
    const { metrics } = this.deps;
    if (metrics) {
      provider.on('grant.success', (ctx) => {
        metrics.tokensIssued.inc({ grant_type: String(ctx.oidc.params?.['grant_type'] ?? 'unknown').slice(0, 60) });
      });
    }
    provider.on('server_error', (ctx, error: Error) => {
      // Answered 503 by the outermost middleware above, and logged there.
      if (isDatabaseUnavailable(error)) ctx.state['databaseUnavailable'] = error;
      else logger.error({ err: error }, 'provider server error');
    });
    // FLOW-4: a revoked grant at the token endpoint is a code or refresh token used twice (in
    // sequence or in a race, on any replica): an attack or a broken client, worth a warning.
    provider.on('grant.revoked', (ctx: { oidc?: { route?: string; client?: { clientId: string } } }, grantId: string) => {
      const route = String(ctx.oidc?.route ?? 'other');
      metrics?.grantsRevoked.inc({ route: route.slice(0, 40) });
      const fields = { event: 'grant_revoked', route, grantId, clientId: ctx.oidc?.client?.clientId };
      if (route === 'token') logger.warn(fields, 'grant revoked: a code or refresh token was used twice');
      else logger.info(fields, 'grant revoked');
    });
    if (this.deps.config.registration.mode !== 'off') prepareRegistration(provider, logger);
    return provider;
  }

  /**
   * Rebuilds the provider if keys or APIs changed. A call during a refresh marks the state
   * stale, so the running refresh goes round once more instead of missing the news.
   */
  refresh(): Promise<void> {
    this.#stale = true;
    this.#refreshing ??= (async () => {
      try {
        while (this.#stale) {
          this.#stale = false;
          await this.rebuildIfChanged();
        }
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  private async rebuildIfChanged(): Promise<void> {
    const state = await LiveProvider.loadState(this.deps);
    const fingerprint = stateFingerprint(state);
    if (fingerprint === this.#fingerprint) return;
    const next = this.build(state);
    this.#handler = next.callback() as never;
    this.#current = next;
    this.#fingerprint = fingerprint;
    this.#publicJwks = state.keyring.jwks.map(publicMembers);
    this.deps.logger.info({ keys: state.keyring.fingerprint }, 'provider rebuilt with new keys or APIs');
  }

  /** Re-checks on a timer (keys activate by the clock) and whenever keys or APIs are announced. */
  startRefreshing(intervalSeconds: number): void {
    const run = () =>
      this.refresh().catch((error: Error) => this.deps.logger.error({ err: error }, 'provider refresh failed'));
    this.#timer = setInterval(run, intervalSeconds * 1000);
    this.#timer.unref();
    this.#unsubscribe = this.deps.feed.subscribe((topic) => {
      if (topic === '*' || topic === 'keys' || topic === 'resource_servers') void run();
    });
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#unsubscribe?.();
  }
}

