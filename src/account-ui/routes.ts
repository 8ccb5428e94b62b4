/**
 * The signed-in user's own pages (SESS-4, SESS-9, SESS-10). Enforces: every page needs a live
 * provider session (and using it keeps it alive, as any request would); every state change is a
 * POST carrying a per-session CSRF token (SameSite alone does not cover older browsers) from our
 * own origin; sessions are addressed by an opaque handle, never their identifier; ending a
 * session takes effect on that browser's next request and revokes its grants.
 */
import { bodyParser } from '@koa/bodyparser';
import { BODY_LIMIT } from '../security/request-body.js';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { WrongPasswordError, type AccountStore } from '../accounts/store.js';
import type { Config } from '../config/index.js';
import { sendPage } from '../interactions/respond.js';
import { errorPage } from '../interactions/views/pages.js';
import type { MasterSecret } from '../security/master-secret.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import type { SessionStore } from '../sessions/store.js';
import { z } from 'zod';
import { ValidationError, parseOrThrow } from '../validation.js';
import { accountSignInUrl, pushedAccountSignInUrl } from './account-client.js';
import { describeDevice, maskIp } from './device.js';
import { passwordChangedPage, passwordPage, sessionsPage } from './views.js';
import type { SecondFactorStore } from '../mfa/store.js';
import type { Metrics } from '../observability/metrics.js';
import { SECOND_FACTOR_FORMS, registerSecondFactorRoutes } from './second-factor-routes.js';
import { requireRecentSignIn, returnPathOf } from './recent-sign-in.js';
import { PASSKEY_FORMS, PASSKEY_FORM_PATTERNS, registerPasskeyRoutes, type PasskeyAccountDependencies } from './passkey-routes.js';
import { formField as field, signedInUser as userOf, type SignedIn } from './signed-in.js';

export interface AccountAreaDependencies {
  readonly config: Config;
  readonly provider: () => Provider;
  readonly accounts: AccountStore;
  readonly sessions: SessionStore;
  readonly secret: MasterSecret;
  readonly sessionTtl: (session: { loginTs?: number | undefined }) => number;
  readonly logger: Logger;
  /** The sign-in throttle: a stolen session cookie must not make password guessing cheaper. */
  readonly throttle: LoginThrottle;
  /** MFA-2: the authenticator app and recovery codes pages. */
  readonly factors?: SecondFactorStore;
  readonly metrics?: Metrics;
  /** MFA-1: the passkeys page. */
  readonly passkeys?: Omit<PasskeyAccountDependencies, 'issuer' | 'otherSessions' | 'throttle'>;
}

const form = bodyParser({ enableTypes: ['form'], formLimit: BODY_LIMIT, encoding: 'utf-8' });

// API-3: each form accepts exactly its own fields.
const csrfOnly = z.strictObject({ csrf: z.string().max(100) });
const FORM_SCHEMAS: Record<string, z.ZodType> = {
  '/account/sign-out': csrfOnly,
  '/account/sessions/end-others': z.strictObject({ csrf: z.string().max(100), choice: z.enum(['end', 'keep']) }),
  '/account/password': z.strictObject({
    csrf: z.string().max(100),
    current_password: z.string().max(1024),
    new_password: z.string().max(1024),
    confirm_password: z.string().max(1024),
  }),
  ...SECOND_FACTOR_FORMS,
  ...PASSKEY_FORMS,
};
const schemaFor = (path: string): z.ZodType =>
  FORM_SCHEMAS[path] ?? PASSKEY_FORM_PATTERNS.find(([pattern]) => pattern.test(path))?.[1] ?? csrfOnly;

export function accountRoutes(deps: AccountAreaDependencies): Router {
  const router = new Router({ prefix: '/account' });
  /** The user's sessions other than this one: what the offer to end them counts (SESS-10). */
  const otherSessions = async (accountId: string, uid: string) =>
    (await deps.sessions.listForAccount(accountId)).filter((session) => session.uid !== uid).length;
  const issuerOrigin = new URL(deps.config.issuer).origin;
  const handleOf = (uid: string) => deps.secret.mac('session-handle', uid).slice(0, 22);

  async function signedIn(ctx: Context): Promise<SignedIn | undefined> {
    const session = await deps.provider().Session.get(ctx as never);
    if (!session.accountId) return undefined;
    // Using the account area is activity: slide the idle timeout like any engine request does.
    await session.save(deps.sessionTtl(session));
    return { accountId: session.accountId, uid: session.uid, csrf: deps.secret.mac('csrf', session.uid), loginTs: session.loginTs };
  }

  /** Every page needs a session; state changes also need our origin and the session's CSRF token. */
  router.use(async (ctx, next) => {
    if (ctx.path === '/account/callback') return next();
    const user = await signedIn(ctx);
    if (!user) {
      if (ctx.method === 'GET') {
        ctx.status = 303;
        ctx.redirect(deps.config.par.required ? await pushedAccountSignInUrl(deps.provider(), deps.config.issuer) : accountSignInUrl(deps.config.issuer));
        return;
      }
      return ctx.throw(401, 'Your session has ended. Sign in again.');
    }
    ctx.state['user'] = user;
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method === 'POST') {
      const origin = ctx.get('origin');
      if (origin && origin !== issuerOrigin) ctx.throw(403, 'This form was sent from another site.');
      await form(ctx, async () => undefined);
      if (!deps.secret.macMatches('csrf', user.uid, field(ctx, 'csrf'))) ctx.throw(403, 'This form has expired. Reload the page and try again.');
      parseOrThrow(schemaFor(ctx.path), ctx.request.body ?? {});
    }
    return next();
  });


  router.get('/callback', (ctx) => {
    if (ctx.query['error']) {
      sendPage(ctx, errorPage({ title: 'Sign-in did not complete', message: 'You were not signed in to your account.' }), { status: 400 });
      return;
    }
    ctx.status = 303;
    ctx.redirect(returnPathOf(ctx.query['state']));
  });

  router.get('/', async (ctx) => {
    const user = userOf(ctx);
    const account = await deps.accounts.findById(user.accountId);
    const sessions = await deps.sessions.listForAccount(user.accountId);
    const notices: Record<string, string> = { ended: 'That session is signed out.', others: 'All your other sessions are signed out.' };
    sendPage(
      ctx,
      sessionsPage({
        username: account?.username ?? '',
        csrf: user.csrf,
        notice: notices[String(ctx.query['done'] ?? '')],
        sessions: sessions.map((session) => ({
          handle: handleOf(session.uid),
          device: describeDevice(session.userAgent),
          network: maskIp(session.ip),
          startedAt: session.startedAt,
          lastSeenAt: session.lastSeenAt,
          current: session.uid === user.uid,
        })),
      }),
    );
  });

  router.post('/sessions/end-others', async (ctx) => {
    const user = userOf(ctx);
    if (field(ctx, 'choice') !== 'end') {
      ctx.status = 303;
      ctx.redirect('/account');
      return;
    }
    const ended = await deps.sessions.endOthers(user.accountId, user.uid);
    deps.logger.info({ event: 'sessions_ended', accountId: user.accountId, count: ended }, 'other sessions ended by the user');
    ctx.status = 303;
    ctx.redirect('/account?done=others');
  });

  router.post('/sessions/:handle/end', async (ctx) => {
    const user = userOf(ctx);
    const target = (await deps.sessions.listForAccount(user.accountId)).find((session) => handleOf(session.uid) === ctx.params['handle']);
    if (!target) return ctx.throw(404, 'That session has already ended.');
    await deps.sessions.end(user.accountId, target.uid);
    deps.logger.info({ event: 'session_ended', accountId: user.accountId }, 'session ended by the user');
    ctx.status = 303;
    ctx.redirect('/account?done=ended');
  });

  router.post('/sign-out', async (ctx) => {
    const user = userOf(ctx);
    await deps.sessions.end(user.accountId, user.uid);
    const provider = deps.provider();
    const name = provider.cookieName('session');
    for (const cookie of [name, `${name}.sig`]) {
      ctx.cookies.set(cookie, null, { path: '/', httpOnly: true, sameSite: 'lax', secure: ctx.secure });
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.get('/password', (ctx) => {
    sendPage(ctx, passwordPage({ csrf: userOf(ctx).csrf }));
  });

  router.post('/password', async (ctx) => {
    const user = userOf(ctx);
    if (!requireRecentSignIn(ctx, user, deps.config.issuer, '/account/password')) return;
    const next = field(ctx, 'new_password');
    const refuse = (status: number, errors: readonly string[]) => sendPage(ctx, passwordPage({ csrf: user.csrf, errors }), { status });
    if (next !== field(ctx, 'confirm_password')) return refuse(400, ['The new passwords do not match.']);
    // API-2: checking the current password is a sign-in attempt: counted and throttled exactly
    // like one, under the account's name, so a stolen session cookie gains no guessing speed.
    const username = (await deps.accounts.findById(user.accountId))?.username ?? user.accountId;
    const wait = await deps.throttle.begin(username, ctx.ip);
    if (wait > 0) {
      deps.logger.warn({ event: 'password_change_throttled', accountId: user.accountId, ip: ctx.ip, wait }, 'password change throttled');
      ctx.set('Retry-After', String(wait));
      return refuse(429, [`Too many wrong passwords. Try again in ${wait} seconds.`]);
    }
    try {
      await deps.accounts.changePassword(user.accountId, field(ctx, 'current_password'), next);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      if (error instanceof WrongPasswordError) {
        deps.logger.warn({ event: 'password_change_failed', accountId: user.accountId, ip: ctx.ip }, 'wrong current password');
      } else {
        await deps.throttle.succeeded(username, ctx.ip);
      }
      return refuse(400, error.problems);
    }
    await deps.throttle.succeeded(username, ctx.ip);
    deps.logger.info({ event: 'password_changed', accountId: user.accountId }, 'password changed by the user');
    sendPage(ctx, passwordChangedPage({ csrf: user.csrf, otherSessions: await otherSessions(user.accountId, user.uid) }));
  });

  if (deps.passkeys) registerPasskeyRoutes(router, { ...deps.passkeys, issuer: deps.config.issuer, throttle: deps.throttle, otherSessions });
  if (deps.factors) {
    registerSecondFactorRoutes(router, { issuer: deps.config.issuer, accounts: deps.accounts, factors: deps.factors, logger: deps.logger, metrics: deps.metrics, throttle: deps.throttle, otherSessions });
  }

  return router;
}
