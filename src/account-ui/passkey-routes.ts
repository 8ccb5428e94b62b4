/**
 * The account area's passkey pages (MFA-1). Enforces (on top of the account area's session,
 * origin and CSRF checks): the registration challenge is made by the server, bound to this
 * browser session, kept in the database for five minutes and taken once; a credential already
 * registered is refused; a passkey is addressed only within the signed-in user's own account;
 * adding or removing one needs a recent sign-in (a stolen session must not add a way in), and
 * removing one the current password too. Events are logged and counted without key material.
 */
import type Router from '@koa/router';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AccountStore } from '../accounts/store.js';
import { sendPage } from '../interactions/respond.js';
import type { InteractionStates } from '../mfa/interaction-states.js';
import type { PasskeyStore } from '../mfa/passkeys.js';
import type { RelyingParty } from '../mfa/webauthn.js';
import type { Metrics } from '../observability/metrics.js';
import { passkeysPage } from './passkey-views.js';
import { factorRemovedPage } from './second-factor-views.js';
import { reauthenticationUrl, requireRecentSignIn, signedInRecently } from './recent-sign-in.js';
import { formField as field, signedInUser as userOf, type SignedIn as User } from './signed-in.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import { throttledCheck, tooManyAttempts } from './throttled-check.js';

export interface PasskeyAccountDependencies {
  readonly accounts: AccountStore;
  readonly passkeys: PasskeyStore;
  readonly states: InteractionStates;
  readonly relyingParty: RelyingParty;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  readonly issuer: string;
  /** API-2: the current password is counted like a sign-in attempt. */
  readonly throttle: LoginThrottle;
  /** How many other sessions the user has, to offer ending them after a removal. */
  readonly otherSessions: (accountId: string, uid: string) => Promise<number>;
}

const csrf = z.string().max(100);
const passkeyName = z.string().trim().min(1, 'Give the passkey a name.').max(64, 'A passkey name has at most 64 characters.');
// API-3: each form accepts exactly its own fields (checked by the account area's middleware).
export const PASSKEY_FORMS: Record<string, z.ZodType> = {
  '/account/passkeys': z.strictObject({ csrf, name: z.string().max(200), response: z.string().max(16_000) }),
};
export const PASSKEY_FORM_PATTERNS: ReadonlyArray<readonly [RegExp, z.ZodType]> = [
  [/^\/account\/passkeys\/[^/]+\/rename$/, z.strictObject({ csrf, name: z.string().max(200) })],
  [/^\/account\/passkeys\/[^/]+\/remove$/, z.strictObject({ csrf, current_password: z.string().max(1024) })],
];

const registration = z.object({
  id: z.string().min(1).max(1400),
  rawId: z.string().min(1).max(1400),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: z.string().max(4000),
    attestationObject: z.string().max(12_000),
    transports: z.array(z.string().max(32)).max(10).optional(),
  }).loose(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});

const PURPOSE = 'passkey-registration';
const CHALLENGE_TTL_SECONDS = 5 * 60;
const NOTICES: Record<string, string> = { added: 'The passkey is added. You can now sign in with it.', renamed: 'The passkey is renamed.', removed: 'The passkey is removed.' };

const challengeKey = (user: User) => `session:${user.uid}`;

function parseRegistration(text: string): RegistrationResponseJSON | undefined {
  try {
    const parsed = registration.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as unknown as RegistrationResponseJSON) : undefined;
  } catch {
    return undefined;
  }
}

export function registerPasskeyRoutes(router: Router, deps: PasskeyAccountDependencies): void {
  const page = async (ctx: Context, status = 200, errors?: readonly string[]) => {
    const user = userOf(ctx);
    sendPage(
      ctx,
      passkeysPage({
        csrf: user.csrf,
        passkeys: await deps.passkeys.list(user.accountId),
        notice: NOTICES[String(ctx.query['done'] ?? '')],
        // Adding a way in needs a recent sign-in: otherwise the page offers one first.
        reauthenticate: signedInRecently(user.loginTs) ? undefined : reauthenticationUrl(deps.issuer, '/account/passkeys'),
        ...(errors ? { errors } : {}),
      }),
      { status },
    );
  };
  const done = (ctx: Context, what: string) => {
    ctx.status = 303;
    ctx.redirect(`/account/passkeys?done=${what}`);
  };

  router.get('/passkeys', (ctx) => page(ctx as unknown as Context));

  router.post('/passkeys/options', async (koa) => {
    const ctx = koa as unknown as Context;
    const user = userOf(ctx);
    if (!requireRecentSignIn(ctx, user, deps.issuer, '/account/passkeys')) return;
    const account = await deps.accounts.findById(user.accountId);
    if (!account) return ctx.throw(401, 'Your session has ended. Sign in again.');
    const options = await deps.relyingParty.registrationOptions(account, await deps.passkeys.list(account.id));
    await deps.states.put(challengeKey(user), PURPOSE, account.id, { challenge: options.challenge }, CHALLENGE_TTL_SECONDS);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = options;
  });

  router.post('/passkeys', async (koa) => {
    const ctx = koa as unknown as Context;
    const user = userOf(ctx);
    if (!requireRecentSignIn(ctx, user, deps.issuer, '/account/passkeys')) return;
    const name = passkeyName.safeParse(field(ctx, 'name'));
    if (!name.success) return page(ctx, 400, name.error.issues.map((issue) => issue.message));
    const response = parseRegistration(field(ctx, 'response'));
    const challenge = await deps.states.take<{ challenge: string }>(challengeKey(user), PURPOSE);
    const passkey = response && challenge?.accountId === user.accountId
      ? await deps.relyingParty.verifyRegistration(user.accountId, name.data, response, challenge.payload.challenge)
      : undefined;
    if (!passkey || !(await deps.passkeys.add(passkey))) {
      deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'enrolment_failed' });
      deps.logger.warn({ event: 'passkey_registration_failed', accountId: user.accountId }, 'passkey registration failed');
      return page(ctx, 400, ['The passkey could not be added. Try again.']);
    }
    deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'enrolled' });
    deps.logger.info({ event: 'passkey_registered', accountId: user.accountId, deviceType: passkey.deviceType, backedUp: passkey.backedUp }, 'passkey registered');
    done(ctx, 'added');
  });

  router.post('/passkeys/:id/rename', async (koa) => {
    const ctx = koa as unknown as Context;
    const user = userOf(ctx);
    const name = passkeyName.safeParse(field(ctx, 'name'));
    if (!name.success) return page(ctx, 400, name.error.issues.map((issue) => issue.message));
    if (!(await deps.passkeys.rename(user.accountId, String(koa.params['id']), name.data))) return ctx.throw(404, 'That passkey does not exist.');
    done(ctx, 'renamed');
  });

  router.post('/passkeys/:id/remove', async (koa) => {
    const ctx = koa as unknown as Context;
    const user = userOf(ctx);
    if (!requireRecentSignIn(ctx, user, deps.issuer, '/account/passkeys')) return;
    const account = await deps.accounts.findById(user.accountId);
    const checked = await throttledCheck(deps.throttle, ctx, account?.username ?? user.accountId, async () => {
      const reauthenticated = account ? await deps.accounts.authenticate(account.username, field(ctx, 'current_password')) : undefined;
      return reauthenticated?.id === user.accountId;
    });
    if (!checked.ok && checked.wait) {
      deps.logger.warn({ event: 'passkey_remove_throttled', accountId: user.accountId, ip: ctx.ip, wait: checked.wait }, 'password check throttled');
      return page(ctx, 429, [tooManyAttempts(checked.wait)]);
    }
    if (!checked.ok) return page(ctx, 400, ['The current password is not right.']);
    if (!(await deps.passkeys.remove(user.accountId, String(koa.params['id'])))) return ctx.throw(404, 'That passkey does not exist.');
    deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'removed' });
    deps.logger.info({ event: 'passkey_removed', accountId: user.accountId }, 'passkey removed by the user');
    sendPage(
      ctx,
      factorRemovedPage({
        csrf: user.csrf,
        title: 'Passkey removed',
        message: NOTICES['removed'] ?? '',
        otherSessions: await deps.otherSessions(user.accountId, user.uid),
        backTo: '/account/passkeys',
      }),
    );
  });
}
