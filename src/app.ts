/**
 * The HTTP application, in the order a request meets it: logging → errors → security headers
 * → CORS → untrusted certificate headers dropped → per-address limit → token-request body
 * → body limit → per-client limits → front-channel POST as GET → registration steps
 * → Gatehouse's own routes → the OpenID provider. (The overload guard runs before Koa.) The provider runs as its own Koa application
 * on the raw request (not mounted into this one), so its cookies are signed with its own keys
 * and it can be swapped for a rebuilt instance between requests.
 */
import type { IncomingMessage } from 'node:http';
import type Router from '@koa/router';
import Koa from 'koa';
import compose from 'koa-compose';
import type { Logger } from 'pino';
import type { AccountStore } from './accounts/store.js';
import type { ResourceServerStore } from './apis/store.js';
import type { Config } from './config/index.js';
import type { Database } from './db/index.js';
import { errorBoundary } from './http/error-boundary.js';
import { healthRoutes } from './http/health.js';
import { assetRoutes } from './interactions/assets.js';
import { interactionRoutes } from './interactions/routes.js';
import { accountRoutes } from './account-ui/routes.js';
import { sessionTtl } from './provider/cookies.js';
import type { MasterSecret } from './security/master-secret.js';
import type { SessionStore } from './sessions/store.js';
import { requestLogging } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import type { LiveProvider } from './provider/live.js';
import { rejectNulInUrl } from './security/input.js';
import { securityHeaders } from './security/headers.js';
import { corsPolicy } from './security/cors.js';
import { LoginThrottle } from './security/login-throttle.js';
import { edgeRateLimits, registrationRateLimit, type RateLimits } from './security/rate-limits.js';
import { tokenRequests } from './security/token-requests.js';
import { frontChannelPostAsGet } from './security/front-channel-posts.js';
import { bodyLimit } from './security/body-limit.js';
import type { ClientStore } from './clients/store.js';
import { dropUntrustedCertificateHeaders } from './tls/forwarded-certificate.js';
import { registrationUpdates } from './registration/edge.js';
import type { SecondFactorStore } from './mfa/store.js';
import type { InteractionStates } from './mfa/interaction-states.js';
import { SecondFactorSignIn } from './interactions/second-factor.js';
import type { PasskeyStore } from './mfa/passkeys.js';
import { RelyingParty } from './mfa/webauthn.js';

export interface AppDependencies {
  readonly config: Config;
  readonly db: Database;
  readonly logger: Logger;
  readonly live: LiveProvider;
  readonly accounts: AccountStore;
  readonly resourceServers: ResourceServerStore;
  readonly sessions: SessionStore;
  readonly secret: MasterSecret;
  readonly clients: ClientStore;
  readonly rateLimits: RateLimits;
  readonly admin: Router;
  readonly metrics: Metrics;
  readonly factors?: SecondFactorStore;
  readonly interactionStates?: InteractionStates;
  readonly passkeys?: PasskeyStore;
}

/** A superset of the paths the host's routers serve; anything else belongs to the engine. */
export const HOST_PATHS = /^\/(healthz|readyz|assets\/|interaction|admin\/|account)/i;

export function createApp(deps: AppDependencies): Koa {
  const app = new Koa({ proxy: deps.config.trustProxy });
  const provider = () => deps.live.current;
  const loginThrottle = new LoginThrottle(deps.rateLimits, deps.config.rateLimits.login);
  const secondFactor = deps.factors && deps.interactionStates
    ? new SecondFactorSignIn({ provider, accounts: deps.accounts, factors: deps.factors, states: deps.interactionStates, throttle: loginThrottle, logger: deps.logger, metrics: deps.metrics, issuer: deps.config.issuer, requirement: deps.config.mfa.requireFor, passkeys: deps.passkeys })
    : undefined;
  // MFA-1: the relying party's ID and origin are the issuer's.
  const passkeys = deps.passkeys && deps.interactionStates
    ? { provider, accounts: deps.accounts, passkeys: deps.passkeys, states: deps.interactionStates, relyingParty: new RelyingParty(deps.config.issuer), logger: deps.logger, metrics: deps.metrics }
    : undefined;
  const routes = [
    healthRoutes(deps.db, () => deps.live.publicJwks.length > 0),
    assetRoutes(),
    interactionRoutes({
      provider,
      accounts: deps.accounts,
      resourceServers: deps.resourceServers,
      logger: deps.logger,
      metrics: deps.metrics,
      throttle: loginThrottle,
      ...(secondFactor ? { secondFactor } : {}),
      ...(passkeys ? { passkeys } : {}),
    }),
    deps.admin,
    accountRoutes({
      config: deps.config,
      provider,
      accounts: deps.accounts,
      sessions: deps.sessions,
      secret: deps.secret,
      sessionTtl: sessionTtl(deps.config),
      logger: deps.logger,
      throttle: loginThrottle,
      ...(deps.factors ? { factors: deps.factors } : {}),
      metrics: deps.metrics,
      ...(passkeys ? { passkeys } : {}),
    }),
  ];

  // Logging wraps the error boundary so a failed request is logged with the status it got.
  app.use(requestLogging(deps.logger));
  app.use(deps.metrics.middleware());
  app.use(rejectNulInUrl());
  app.use(errorBoundary(deps.logger));
  app.use(securityHeaders());
  app.use(corsPolicy(() => deps.clients.webOrigins()));
  app.use(dropUntrustedCertificateHeaders(deps.config.mtls?.forwarded, deps.logger));
  const edgeLimits = edgeRateLimits({
    limits: deps.rateLimits,
    ipPerMinute: deps.config.rateLimits.ipPerMinute,
    clientPerMinute: deps.config.rateLimits.clientPerMinute,
    clientAuthFailuresPerMinute: deps.config.rateLimits.clientAuthFailuresPerMinute,
    syncMs: deps.config.rateLimits.syncMs,
    logger: deps.logger,
    onReject: (policy) => deps.metrics.rateLimited.inc({ policy }),
  });
  // The per-address limit comes before any body is read or parsed (issue 13 item 4).
  app.use(edgeLimits.byAddress);
  app.use(tokenRequests());
  app.use(bodyLimit((path) => HOST_PATHS.test(path)));
  app.use(edgeLimits.byClient);
  // FLOW-10: a form POST to /auth or /session/end comes back as a top-level GET (SameSite=Lax).
  app.use(frontChannelPostAsGet());
  if (deps.config.registration.mode !== 'off') {
    // FLOW-11: registrations are rate limited on their own; RFC 7592 updates may carry the client's secret.
    app.use(
      registrationRateLimit({
        limits: deps.rateLimits,
        perHour: deps.config.registration.perHour,
        logger: deps.logger,
        onReject: (policy) => deps.metrics.rateLimited.inc({ policy }),
      }),
    );
    app.use(registrationUpdates(deps.clients));
  }
  // Every request to the engine would otherwise walk each router's route table; only paths under
  // the host's own prefixes can match one (folded like the routers fold them: case, trailing slash).
  for (const layer of routes.flatMap((router) => router.stack)) {
    if (typeof layer.path !== 'string' || !HOST_PATHS.test(layer.path)) {
      throw new Error(`route ${String(layer.path)} is outside HOST_PATHS and would never be reached`);
    }
  }
  // @koa/router types its middleware for the context it extends itself (params, router); Koa's
  // use() infers that widening, koa-compose cannot.
  const routerMiddleware = routes.flatMap((router) => [router.routes(), router.allowedMethods()]) as unknown as Koa.Middleware[];
  const hostRoutes = compose(routerMiddleware);
  app.use((ctx, next) => (HOST_PATHS.test(ctx.path) ? hostRoutes(ctx, next) : next()));
  app.use(async (ctx) => {
    ctx.respond = false;
    // A body the edge already read is replayed to the engine (rewritten when a JWT was swapped).
    await deps.live.handle((ctx.state['engineRequest'] as IncomingMessage | undefined) ?? ctx.req, ctx.res);
  });
  // Errors are answered by the boundary above; this only keeps Koa from printing them twice.
  app.silent = true;
  // Anything that escapes the boundary (e.g. the logging around it) is still one JSON line.
  app.on('error', (error: unknown) => deps.logger.error({ err: error }, 'request failed outside the error boundary'));
  return app;
}
