/**
 * The admin HTTP API under /admin/v1 (OPS-3): clients, APIs, users, a user's sessions, keys.
 * Thin: every operation is the same domain function the CLI calls, with the same schemas.
 */
import { bodyParser } from '@koa/bodyparser';
import { BODY_LIMIT } from '../security/request-body.js';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { payloadHasUnstorableText } from '../adapter/records.js';
import type { Logger } from 'pino';
import { registerResourceServers } from '../apis/register.js';
import { registerClients } from '../clients/register.js';
import { describeReset, resetPassword } from '../accounts/password-reset.js';
import type { LiveProvider } from '../provider/live.js';
import { keyRetention } from '../provider/live.js';
import type { StructuredTokens } from '../provider/structured-tokens.js';
import type { Services } from '../services.js';
import { ValidationError, parseOrThrow } from '../validation.js';
import { adminAuthentication, requireScope } from './authentication.js';
import { buildOpenApiDocument } from './openapi.js';
import { disabledBody, newUserBody, passwordBody, userClaimsBody } from './schemas.js';
import { addInitialAccessTokenRoutes } from './initial-access-token-routes.js';
import { registerFactorRoutes } from './factor-routes.js';

export interface AdminDependencies {
  readonly services: Services;
  readonly live: LiveProvider;
  readonly structuredTokens: Pick<StructuredTokens, 'isRevoked'>;
  readonly logger: Logger;
}

const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: BODY_LIMIT, encoding: 'utf-8' });
// API-3: PostgreSQL cannot store U+0000; refuse it with the other bad input rather than fail later.
const json: Middleware = async (ctx, next) =>
  parseJson(ctx, async () => {
    if (payloadHasUnstorableText(ctx.request.body)) throw new ValidationError(['values must not contain NUL characters or unpaired surrogates']);
    await next();
  });

function notFound(what: string): never {
  const error = new Error(`${what} not found`) as Error & { status: number; expose: boolean };
  error.status = 404;
  error.expose = true;
  throw error;
}

export function adminRoutes(deps: AdminDependencies): Router {
  const { services, live } = deps;
  const router = new Router({ prefix: '/admin/v1' });
  const read = requireScope('admin:read');
  const write = requireScope('admin:write');
  const handleOf = (uid: string) => services.secret.mac('session-handle', uid).slice(0, 22);
  const audit = (ctx: Context, action: string, target: string) =>
    deps.logger.info({ event: 'admin_action', action, target, adminClient: (ctx.state['admin'] as { clientId: string }).clientId }, 'admin action');
  const accountOf = async (username: string) => (await services.accounts.findByUsername(username)) ?? notFound(`user "${username}"`);

  const openapi = buildOpenApiDocument(services.config.issuer);
  router.get('/openapi.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = openapi;
  });

  router.use(
    adminAuthentication({
      issuer: services.config.issuer,
      publicKeys: () => live.publicJwks,
      isRevoked: (jti) => deps.structuredTokens.isRevoked(jti),
      clientExists: async (clientId) => Boolean(await services.clients.find(clientId)),
    }),
  );
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  // Clients
  router.get('/clients', read, async (ctx) => {
    ctx.body = await services.clients.list();
  });
  router.get('/clients/:id', read, async (ctx) => {
    ctx.body = (await services.clients.metadata(ctx.params['id'] ?? '')) ?? notFound('client');
  });
  router.put('/clients/:id', write, json, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError(['expected a JSON object of client metadata']);
    if (body['client_id'] !== undefined && body['client_id'] !== ctx.params['id']) throw new ValidationError(['client_id in the body must match the URL']);
    const [saved] = await registerClients([{ ...body, client_id: ctx.params['id'] }], live.current, services.clients);
    audit(ctx, 'client.upsert', ctx.params['id'] ?? '');
    for (const warning of saved?.warnings ?? []) deps.logger.warn({ event: 'client_registration_warning', clientId: ctx.params['id'] }, warning);
    ctx.status = saved?.created ? 201 : 200;
    ctx.body = saved;
  });
  router.delete('/clients/:id', write, async (ctx) => {
    if (!(await services.clients.delete(ctx.params['id'] ?? ''))) notFound('client');
    audit(ctx, 'client.delete', ctx.params['id'] ?? '');
    ctx.status = 204;
  });

  // Initial access tokens for dynamic client registration (FLOW-11)
  addInitialAccessTokenRoutes(router, { tokens: services.initialAccessTokens, read, write, json, audit });

  // APIs (resource servers): identifiers are URIs, so they travel in the body.
  router.get('/apis', read, async (ctx) => {
    ctx.body = [...(await services.resourceServers.all()).values()];
  });
  router.post('/apis', write, json, async (ctx) => {
    const [saved] = await registerResourceServers([ctx.request.body], services.resourceServers);
    await live.refresh();
    audit(ctx, 'api.upsert', saved?.identifier ?? '');
    ctx.status = saved?.created ? 201 : 200;
    ctx.body = saved;
  });

  // Users
  router.get('/users', read, async (ctx) => {
    ctx.body = await services.accounts.list();
  });
  router.post('/users', write, json, async (ctx) => {
    const { password, ...account } = parseOrThrow(newUserBody, ctx.request.body);
    const created = await services.accounts.create(account, password);
    audit(ctx, 'user.create', created.username);
    ctx.status = 201;
    ctx.body = created;
  });
  // FLOW-10: change a user's standard claims; a value sets one, null removes it.
  router.patch('/users/:username', write, json, async (ctx) => {
    const changes = parseOrThrow(userClaimsBody, ctx.request.body);
    await accountOf(ctx.params['username'] ?? '');
    const account = await services.accounts.updateClaims(ctx.params['username'] ?? '', changes);
    audit(ctx, 'user.update', account.username);
    ctx.body = account;
  });
  router.put('/users/:username/password', write, json, async (ctx) => {
    const { password, keep_sessions: keepSessions } = parseOrThrow(passwordBody, ctx.request.body);
    await accountOf(ctx.params['username'] ?? '');
    const reset = await resetPassword(services, ctx.params['username'] ?? '', password, { keepSessions: keepSessions ?? false });
    audit(ctx, 'user.password', reset.account.username);
    ctx.body = {
      username: reset.account.username,
      sessions_ended: reset.sessionsEnded,
      ended_sessions: reset.endedSessions,
      revoked_grants: reset.revokedGrants,
      message: describeReset(reset),
    };
  });
  router.put('/users/:username/disabled', write, json, async (ctx) => {
    const { disabled } = parseOrThrow(disabledBody, ctx.request.body);
    const account = await accountOf(ctx.params['username'] ?? '');
    await services.accounts.setDisabled(account.id, disabled);
    if (disabled) await services.sessions.endOthers(account.id, undefined);
    audit(ctx, disabled ? 'user.disable' : 'user.enable', account.username);
    ctx.body = { ...account, disabled };
  });

  // A user's sessions
  router.get('/users/:username/sessions', read, async (ctx) => {
    const account = await accountOf(ctx.params['username'] ?? '');
    const sessions = await services.sessions.listForAccount(account.id);
    ctx.body = sessions.map(({ uid, ...session }) => ({ handle: handleOf(uid), ...session }));
  });
  router.delete('/users/:username/sessions/:handle', write, async (ctx) => {
    const account = await accountOf(ctx.params['username'] ?? '');
    const target = (await services.sessions.listForAccount(account.id)).find((session) => handleOf(session.uid) === ctx.params['handle']);
    if (!target) notFound('session');
    await services.sessions.end(account.id, target.uid);
    audit(ctx, 'session.end', account.username);
    ctx.status = 204;
  });
  router.delete('/users/:username/sessions', write, async (ctx) => {
    const account = await accountOf(ctx.params['username'] ?? '');
    const ended = await services.sessions.endOthers(account.id, undefined);
    audit(ctx, 'session.end_all', account.username);
    ctx.body = { ended };
  });

  // A user's sign-in factors (MFA)
  registerFactorRoutes(router, { stores: services, read, write, json, accountOf, audit });

  // Keys
  router.get('/keys', read, async (ctx) => {
    const keys = await services.keys.list(new Date(), keyRetention({ config: services.config }, { resourceServers: await services.resourceServers.all() }));
    ctx.body = keys.map(({ key, state, publishedUntil }) => ({
      kid: key.kid,
      purpose: key.purpose,
      alg: key.alg,
      state,
      activatesAt: key.activatesAt,
      publishedUntil,
      ...(key.publicJwk ? { publicJwk: key.publicJwk } : {}),
    }));
  });
  router.post('/keys/rotate', write, async (ctx) => {
    const rotated = await services.keys.rotate(services.config.keys.publishDelay);
    await services.feed.publish('keys');
    audit(ctx, 'keys.rotate', rotated.kids.join(','));
    ctx.status = 201;
    ctx.body = rotated;
  });

  return router;
}
