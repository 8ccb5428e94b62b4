/**
 * The HTTP application, in the order a request meets it: logging → errors → security headers
 * → CORS → untrusted certificate headers dropped → per-address limit → token-request body
 * → body limit → per-client limits → front-channel POST as GET → registration steps, then either
 * Gatehouse's own routes or the OpenID provider. (The overload guard runs before Koa.)
 * The edge steps run in one Koa application per request: the host's for its own paths, the
 * engine's (as its first middleware) for everything else — so a token request pays for one
 * context and one response, and the engine reads the body the edge may have read through the
 * request the edge put in its place. The provider keeps its own application (not mounted into
 * the host's), so its cookies are signed with its own keys and a rebuilt instance can take over
 * between requests.
 */
import type { RequestListener } from 'node:http';
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
import { requestPath } from './http/request-path.js';
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

export function createRequestHandler(deps: AppDependencies): RequestListener {
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

  const edge = edgeSteps(deps);
  for (const step of edge) app.use(step);
  // Every request to the engine would otherwise walk each router's route table; only paths under
  // the host's own prefixes can match one (folded like the routers fold them: case, trailing slash).
  for (const layer of routes.flatMap((router) => router.stack)) {
    if (typeof layer.path !== 'string' || !HOST_PATHS.test(layer.path)) {
      throw new Error(`route ${String(layer.path)} is outside HOST_PATHS and would never be reached`);
    }
  }
  for (const router of routes) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  // Errors are answered by the boundary above; this only keeps Koa from printing them twice.
  app.silent = true;
  // Anything that escapes the boundary (e.g. the logging around it) is still one JSON line.
  app.on('error', (error: unknown) => deps.logger.error({ err: error }, 'request failed outside the error boundary'));

  deps.live.useEdge(compose(edge));
  const host = app.callback();
  return (req, res) => {
    if (HOST_PATHS.test(requestPath(req.url))) void host(req, res);
    else void deps.live.handle(req, res);
  };
}

/** The steps every request passes before its route, host or engine, in order. */
function edgeSteps(deps: AppDependencies): Koa.Middleware[] {
  const edgeLimits = edgeRateLimits({
    limits: deps.rateLimits,
    ipPerMinute: deps.config.rateLimits.ipPerMinute,
    clientPerMinute: deps.config.rateLimits.clientPerMinute,
    clientAuthFailuresPerMinute: deps.config.rateLimits.clientAuthFailuresPerMinute,
    syncMs: deps.config.rateLimits.syncMs,
    logger: deps.logger,
    onReject: (policy) => deps.metrics.rateLimited.inc({ policy }),
  });
  const steps: Koa.Middleware[] = [
    // Logging wraps the error boundary so a failed request is logged with the status it got.
    requestLogging(deps.logger),
    deps.metrics.middleware(),
    rejectNulInUrl(),
    errorBoundary(deps.logger),
    securityHeaders(),
    corsPolicy(() => deps.clients.webOrigins()),
    dropUntrustedCertificateHeaders(deps.config.mtls?.forwarded, deps.logger),
    // The per-address limit comes before any body is read or parsed (issue 13 item 4).
    edgeLimits.byAddress,
    tokenRequests(),
    bodyLimit((path) => HOST_PATHS.test(path)),
    edgeLimits.byClient,
    // FLOW-10: a form POST to /auth or /session/end comes back as a top-level GET (SameSite=Lax).
    frontChannelPostAsGet(),
  ];
  if (deps.config.registration.mode !== 'off') {
    steps.push(
      // FLOW-11: registrations are rate limited on their own; RFC 7592 updates may carry the client's secret.
      registrationRateLimit({
        limits: deps.rateLimits,
        perHour: deps.config.registration.perHour,
        logger: deps.logger,
        onReject: (policy) => deps.metrics.rateLimited.inc({ policy }),
      }),
      registrationUpdates(deps.clients),
    );
  }
  return steps;
}
