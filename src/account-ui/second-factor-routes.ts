/**
 * The account area's second-factor pages (MFA-2). Enforces (on top of the account area's own
 * session, origin and CSRF checks): an authenticator app counts only after a first code from it
 * is confirmed; recovery codes are shown once, right after they are made; removing the app needs
 * the current password; setting up an app, new recovery codes and removal need a recent sign-in
 * (a stolen session must not be able to add a way in). Events are logged and counted, never a
 * secret or a code.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AccountStore } from '../accounts/store.js';
import { sendPage } from '../interactions/respond.js';
import type { SecondFactorStore } from '../mfa/store.js';
import { groupedSecret, otpauthUri, qrCodeImage } from '../mfa/totp.js';
import type { Metrics } from '../observability/metrics.js';
import { ValidationError } from '../validation.js';
import { factorRemovedPage, recoveryCodesPage, securityPage, totpSetupPage } from './second-factor-views.js';
import { requireRecentSignIn } from './recent-sign-in.js';
import { formField as field, signedInUser as userOf } from './signed-in.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import { throttledCheck, tooManyAttempts } from './throttled-check.js';

export interface SecondFactorAccountDependencies {
  readonly issuer: string;
  readonly accounts: AccountStore;
  readonly factors: SecondFactorStore;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  /** API-2: the current password and first codes are counted like sign-in attempts. */
  readonly throttle: LoginThrottle;
  /** How many other sessions the user has, to offer ending them after a removal. */
  readonly otherSessions: (accountId: string, uid: string) => Promise<number>;
}

// API-3: each form accepts exactly its own fields (checked by the account area's middleware).
export const SECOND_FACTOR_FORMS: Record<string, z.ZodType> = {
  '/account/totp/confirm': z.strictObject({ csrf: z.string().max(100), code: z.string().max(20) }),
  '/account/totp/remove': z.strictObject({ csrf: z.string().max(100), current_password: z.string().max(1024) }),
};

const NOTICES: Record<string, string> = { removed: 'The authenticator app is removed. Signing in needs only your password now.' };

export function registerSecondFactorRoutes(router: Router, deps: SecondFactorAccountDependencies): void {
  const setupPage = async (ctx: Context, secret: string, error?: string) => {
    const account = await deps.accounts.findById(userOf(ctx).accountId);
    const uri = otpauthUri(deps.issuer, account?.username ?? 'account', secret);
    sendPage(ctx, totpSetupPage({ csrf: userOf(ctx).csrf, qrImage: await qrCodeImage(uri), secret: groupedSecret(secret), ...(error ? { error } : {}) }), {
      status: error ? 400 : 200,
    });
  };

  router.get('/security', async (ctx) => {
    const user = userOf(ctx as unknown as Context);
    sendPage(ctx as unknown as Context, securityPage({ csrf: user.csrf, status: await deps.factors.status(user.accountId), notice: NOTICES[String(ctx.query['done'] ?? '')] }));
  });

  router.post('/totp/start', async (ctx) => {
    const c = ctx as unknown as Context;
    const user = userOf(c);
    if (!requireRecentSignIn(c, user, deps.issuer, '/account/security')) return;
    try {
      await setupPage(c, await deps.factors.startTotpEnrolment(user.accountId));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      sendPage(c, securityPage({ csrf: user.csrf, status: await deps.factors.status(user.accountId), errors: error.problems }), { status: 400 });
    }
  });

  router.post('/totp/confirm', async (ctx) => {
    const c = ctx as unknown as Context;
    const user = userOf(c);
    // The pending secret is shown again only to a recent sign-in, like setting it up.
    if (!requireRecentSignIn(c, user, deps.issuer, '/account/security')) return;
    const pending = await deps.factors.pendingTotpSecret(user.accountId);
    if (!pending) {
      ctx.status = 303;
      ctx.redirect('/account/security');
      return;
    }
    const account = await deps.accounts.findById(user.accountId);
    let codes: string[] | undefined;
    const checked = await throttledCheck(deps.throttle, c, account?.username ?? user.accountId, async () => {
      codes = await deps.factors.confirmTotp(user.accountId, field(c, 'code'));
      return codes !== undefined;
    });
    if (!checked.ok || !codes) {
      if (checked.ok === false && checked.wait) {
        deps.metrics?.secondFactors.inc({ method: 'totp', result: 'throttled' });
        await setupPage(c, pending, tooManyAttempts(checked.wait));
        c.status = 429;
        return;
      }
      deps.metrics?.secondFactors.inc({ method: 'totp', result: 'enrolment_failed' });
      await setupPage(c, pending, 'That code is not right. Check that the time on your phone is correct, then enter the code the app shows now.');
      return;
    }
    deps.metrics?.secondFactors.inc({ method: 'totp', result: 'enrolled' });
    deps.logger.info({ event: 'totp_enrolled', accountId: user.accountId }, 'authenticator app set up');
    sendPage(c, recoveryCodesPage({ csrf: user.csrf, codes, justEnrolled: true }));
  });

  router.post('/recovery-codes', async (ctx) => {
    const c = ctx as unknown as Context;
    const user = userOf(c);
    if (!requireRecentSignIn(c, user, deps.issuer, '/account/security')) return;
    try {
      const codes = await deps.factors.regenerateRecoveryCodes(user.accountId);
      deps.logger.info({ event: 'recovery_codes_regenerated', accountId: user.accountId }, 'recovery codes regenerated');
      sendPage(c, recoveryCodesPage({ csrf: user.csrf, codes, justEnrolled: false }));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      sendPage(c, securityPage({ csrf: user.csrf, status: await deps.factors.status(user.accountId), errors: error.problems }), { status: 400 });
    }
  });

  router.post('/totp/remove', async (ctx) => {
    const c = ctx as unknown as Context;
    const user = userOf(c);
    if (!requireRecentSignIn(c, user, deps.issuer, '/account/security')) return;
    const account = await deps.accounts.findById(user.accountId);
    const checked = await throttledCheck(deps.throttle, c, account?.username ?? user.accountId, async () => {
      const reauthenticated = account ? await deps.accounts.authenticate(account.username, field(c, 'current_password')) : undefined;
      return reauthenticated?.id === user.accountId;
    });
    if (!checked.ok) {
      if (checked.wait) deps.logger.warn({ event: 'totp_remove_throttled', accountId: user.accountId, ip: c.ip, wait: checked.wait }, 'password check throttled');
      const errors = [checked.wait ? tooManyAttempts(checked.wait) : 'The current password is not right.'];
      sendPage(c, securityPage({ csrf: user.csrf, status: await deps.factors.status(user.accountId), errors }), { status: checked.wait ? 429 : 400 });
      return;
    }
    if (await deps.factors.removeTotp(user.accountId)) {
      deps.metrics?.secondFactors.inc({ method: 'totp', result: 'removed' });
      deps.logger.info({ event: 'totp_removed', accountId: user.accountId }, 'authenticator app removed by the user');
    }
    sendPage(
      c,
      factorRemovedPage({
        csrf: user.csrf,
        title: 'Authenticator app removed',
        message: NOTICES['removed'] ?? '',
        otherSessions: await deps.otherSessions(user.accountId, user.uid),
        backTo: '/account/security',
      }),
    );
  });
}
