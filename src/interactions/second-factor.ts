/**
 * The second sign-in step (MFA-2): after a correct password, an account with an authenticator
 * app is asked for a code (or a recovery code) in the same interaction. Enforces: the password
 * step is remembered in the database, bound to this interaction and short-lived, and spent when
 * the second factor succeeds (exactly once, whichever replica serves it); every code attempt goes
 * through the login throttle (API-2) before it is checked; a code or recovery code is accepted
 * once; the ID token then says `urn:gatehouse:acr:mfa` with amr ["pwd","otp"] (RFC 8176). A user
 * who also has passkeys is offered one instead of the code (second-factor-passkey.ts).
 */
import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ACR_MFA, ACR_PHISHING_RESISTANT, PASSWORD_SIGN_IN } from '../accounts/authentication-context.js';
import type { Account, AccountStore } from '../accounts/store.js';
import type { InteractionStates } from '../mfa/interaction-states.js';
import type { SecondFactorStore } from '../mfa/store.js';
import type { PasskeyStore } from '../mfa/passkeys.js';
import type { Metrics } from '../observability/metrics.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import { ValidationError, describeIssues } from '../validation.js';
import { pageClient } from './page-client.js';
import { sendPage } from './respond.js';
import type { SafeHtml } from './views/html.js';
import { enrolledPage, secondFactorPage, totpEnrolmentPage } from './views/second-factor.js';
import { loginPage } from './views/pages.js';
import { STEP_UP_REASONS, clientRequiresMultiFactor, essentialMultiFactor, type MultiFactorRequirement } from '../mfa/policy.js';
import { groupedSecret, otpauthUri, qrCodeImage } from '../mfa/totp.js';
import { CODE_METHODS, PENDING_SECOND_FACTOR as PURPOSE, PENDING_TTL_SECONDS, secondFactorLogin, type PendingSecondFactor } from './pending-second-factor.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface SecondFactorDependencies {
  readonly provider: () => Provider;
  readonly accounts: AccountStore;
  readonly factors: SecondFactorStore;
  readonly states: InteractionStates;
  readonly throttle: LoginThrottle;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  readonly issuer: string;
  /** REQUIRE_MFA_FOR (MFA-3). */
  readonly requirement: MultiFactorRequirement;
  /** A user with passkeys steps up with one, on the login page that offers it. */
  readonly passkeys?: PasskeyStore | undefined;
}

type ClientLike = { readonly clientId: string; readonly clientName?: string | undefined; readonly [key: string]: unknown };

/** What the GET of a login prompt should do next. */
export type NextStep = { readonly page: SafeHtml } | { readonly redirect: string };

// API-3: exactly one of the two fields the second-factor forms send.
const secondFactorForm = z.union([
  z.strictObject({ code: z.string().min(1).max(20) }),
  z.strictObject({ recovery_code: z.string().min(1).max(40) }),
]);

const enrolForm = z.strictObject({ code: z.string().min(1).max(20) });

const form = bodyParser({ enableTypes: ['form'], formLimit: '4kb', encoding: 'utf-8' });

export class SecondFactorSignIn {
  constructor(private readonly deps: SecondFactorDependencies) {}

  /**
   * After a correct password: hands the sign-in back to the engine when the account has no
   * second factor, or holds it for the code. Returns where to send the browser.
   */
  async afterPassword(ctx: Context, details: Details, account: Account): Promise<string> {
    const enrolled = await this.deps.factors.hasTotp(account.id);
    if (enrolled || (await this.multiFactorRequired(details, account.id))) {
      const hasPasskeys = !enrolled && Boolean((await this.deps.passkeys?.list(account.id))?.length);
      const pending: PendingSecondFactor = { amr: [...PASSWORD_SIGN_IN.amr], ...(enrolled ? {} : hasPasskeys ? { passkeyInstead: true } : { enrol: true }) };
      await this.deps.states.put(details.uid, PURPOSE, account.id, pending, PENDING_TTL_SECONDS);
      return `/interaction/${details.uid}`;
    }
    const login = { accountId: account.id, acr: PASSWORD_SIGN_IN.acr, amr: [...PASSWORD_SIGN_IN.amr] };
    return this.deps.provider().interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false });
  }

  /** Whether this sign-in must end multi-factor: an essential acr, the account's flag, the client's policy or REQUIRE_MFA_FOR. */
  private async multiFactorRequired(details: Details, accountId: string): Promise<boolean> {
    if (essentialMultiFactor(details.prompt)) return true;
    if (await this.deps.factors.isRequired(accountId)) return true;
    const client = (await this.deps.provider().Client.find(String(details.params['client_id']))) as unknown as ClientLike | undefined;
    return clientRequiresMultiFactor(this.deps.requirement, client);
  }

  /** The acr the second step this account is offered gives: a code (or enrolling an app) mfa, a passkey phr. */
  async nextStepAcr(accountId: string): Promise<string> {
    if (await this.deps.factors.hasTotp(accountId)) return ACR_MFA;
    return (await this.deps.passkeys?.list(accountId))?.length ? ACR_PHISHING_RESISTANT : ACR_MFA;
  }

  /**
   * The next step of a login prompt, when it is ours: the code (or enrolment) page after the
   * password, or a step-up inside a live session (MFA-3) that needs only the second factor.
   */
  async nextStep(ctx: Context, details: Details, clientName: string): Promise<NextStep | undefined> {
    const pendingPage = await this.pendingPage(details, clientName);
    if (pendingPage) return { page: pendingPage };
    const session = details.session;
    const reasons = details.prompt.reasons;
    if (!session?.accountId || !reasons.length || !reasons.every((reason) => STEP_UP_REASONS.includes(reason))) return undefined;
    const account = await this.deps.accounts.findById(session.accountId);
    if (!account || account.disabled) return undefined;
    const amr = Array.isArray(session['amr']) ? (session['amr'] as string[]) : [...PASSWORD_SIGN_IN.amr];
    const original = session.uid ? await this.deps.provider().Session.findByUid(session.uid) : undefined;
    const enrolled = await this.deps.factors.hasTotp(account.id);
    if (enrolled) {
      // Without the session's own sign-in time a code-only step-up cannot keep it: ask for everything.
      if (!original?.loginTs) return undefined;
      await this.deps.states.put(details.uid, PURPOSE, account.id, { amr, stepUp: true, loginTs: original.loginTs } satisfies PendingSecondFactor, PENDING_TTL_SECONDS);
      const page = await this.pendingPage(details, clientName);
      return page ? { page } : undefined;
    }
    // No authenticator app: a step-up never sets one up with the session cookie alone. The full
    // login page asks for the password (or offers the passkey); enrolment follows the password.
    if ((await this.deps.passkeys?.list(account.id))?.length) return undefined;
    if (await this.multiFactorRequired(details, account.id)) return undefined;
    // Asked for voluntarily, and this user has no second factor: the session stays as it is, and
    // the ID token says so (its acr, amr and auth_time are the original sign-in's).
    const login = {
      accountId: account.id,
      ...(typeof session['acr'] === 'string' ? { acr: session['acr'] } : {}),
      amr,
      ...(original?.loginTs ? { ts: original.loginTs } : {}),
    };
    return { redirect: await this.deps.provider().interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false }) };
  }

  /** The page for a login prompt whose password step is done, if it is. */
  async pendingPage(details: Details, clientName: string, error?: string): Promise<SafeHtml | undefined> {
    const pending = await this.deps.states.get<PendingSecondFactor>(details.uid, PURPOSE);
    if (!pending?.accountId) return undefined;
    const account = await this.deps.accounts.findById(pending.accountId);
    if (!account || account.disabled) return undefined;
    if (pending.payload.passkeyInstead) {
      const error = `${clientName} requires more than a password. Sign in with your passkey.`;
      return loginPage({ uid: details.uid, clientName, username: account.username, error });
    }
    if (pending.payload.enrol && !pending.payload.stepUp && !(await this.deps.factors.hasTotp(account.id))) {
      const secret = (await this.deps.factors.pendingTotpSecret(account.id)) ?? (await this.deps.factors.startTotpEnrolment(account.id));
      const qrImage = await qrCodeImage(otpauthUri(this.deps.issuer, account.username, secret));
      return totpEnrolmentPage({ uid: details.uid, clientName, username: account.username, qrImage, secret: groupedSecret(secret), ...(error ? { error } : {}) });
    }
    const passkey = Boolean((await this.deps.passkeys?.list(account.id))?.length);
    return secondFactorPage({ uid: details.uid, clientName, username: account.username, stepUp: pending.payload.stepUp ?? false, passkey, ...(error ? { error } : {}) });
  }

  /** Adds the second-factor form's target to the interaction router (and its error handling). */
  register(router: Router): void {
    router.post('/:uid/second-factor', form, (ctx) => this.submit(ctx as unknown as Context));
    router.post('/:uid/enrol', form, (ctx) => this.enrol(ctx as unknown as Context));
  }

  private async submit(ctx: Context): Promise<void> {
    const { deps } = this;
    const provider = deps.provider();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, 'this sign-in step is already complete');
    const parsed = secondFactorForm.safeParse(ctx.request.body ?? {});
    if (!parsed.success) throw new ValidationError(describeIssues(parsed.error));
    const pending = await deps.states.get<PendingSecondFactor>(details.uid, PURPOSE);
    const account = pending?.accountId ? await deps.accounts.findById(pending.accountId) : undefined;
    if (!pending || !account || account.disabled) ctx.throw(400, 'This sign-in has expired. Go back to the application and start again.');
    const { client, clientName, formTargets } = await pageClient(provider, details);
    const method = 'code' in parsed.data ? 'totp' : 'recovery_code';
    const retry = async (status: number, error: string) => {
      const page = await this.pendingPage(details, clientName, error);
      if (page) sendPage(ctx, page, { status, formTargets });
    };

    // API-2: counted before it is checked, like a password.
    const wait = await deps.throttle.begin(account.username, ctx.ip);
    if (wait > 0) {
      deps.logger.warn({ event: 'second_factor_throttled', accountId: account.id, ip: ctx.ip, wait }, 'second factor throttled');
      deps.metrics?.secondFactors.inc({ method, result: 'throttled' });
      ctx.set('Retry-After', String(wait));
      await retry(429, `Too many failed attempts. Try again in ${wait} seconds.`);
      return;
    }
    const ok = 'code' in parsed.data
      ? await deps.factors.verifyTotp(account.id, parsed.data.code)
      : await deps.factors.redeemRecoveryCode(account.id, parsed.data.recovery_code);
    if (!ok) {
      deps.metrics?.secondFactors.inc({ method, result: 'failed' });
      deps.logger.warn({ event: 'second_factor_failed', method, accountId: account.id, ip: ctx.ip }, 'second factor failed');
      await retry(401, method === 'totp' ? 'That code is not right, or it was already used. Wait for the next code and try again.' : 'That recovery code is not right, or it was already used.');
      return;
    }
    // Spent once: a second request racing this one on another replica finds nothing to finish.
    if (!(await deps.states.take(details.uid, PURPOSE))) ctx.throw(400, 'This sign-in step is already complete.');
    await deps.throttle.succeeded(account.username, ctx.ip);
    deps.metrics?.secondFactors.inc({ method, result: 'ok' });
    deps.logger.info({ event: 'second_factor_succeeded', method, accountId: account.id, clientId: client?.clientId }, 'second factor accepted');
    const login = secondFactorLogin(account.id, pending.payload, CODE_METHODS);
    const url = await provider.interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(url);
  }

  /** MFA-3: the first code from a new authenticator app, during a sign-in that requires one. */
  private async enrol(ctx: Context): Promise<void> {
    const { deps } = this;
    const provider = deps.provider();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, 'this sign-in step is already complete');
    const parsed = enrolForm.safeParse(ctx.request.body ?? {});
    if (!parsed.success) throw new ValidationError(describeIssues(parsed.error));
    const pending = await deps.states.get<PendingSecondFactor>(details.uid, PURPOSE);
    const account = pending?.accountId ? await deps.accounts.findById(pending.accountId) : undefined;
    if (!pending?.payload.enrol || pending.payload.stepUp || !account || account.disabled) ctx.throw(400, 'This sign-in has expired. Go back to the application and start again.');
    const { client, clientName, formTargets } = await pageClient(provider, details);
    const retry = async (status: number, error: string) => {
      const page = await this.pendingPage(details, clientName, error);
      if (page) sendPage(ctx, page, { status, formTargets });
    };
    const wait = await deps.throttle.begin(account.username, ctx.ip);
    if (wait > 0) {
      ctx.set('Retry-After', String(wait));
      deps.metrics?.secondFactors.inc({ method: 'totp', result: 'throttled' });
      await retry(429, `Too many failed attempts. Try again in ${wait} seconds.`);
      return;
    }
    const codes = await deps.factors.confirmTotp(account.id, parsed.data.code);
    if (!codes) {
      deps.metrics?.secondFactors.inc({ method: 'totp', result: 'enrolment_failed' });
      await retry(401, 'That code is not right. Check that the time on your phone is correct, then enter the code the app shows now.');
      return;
    }
    if (!(await deps.states.take(details.uid, PURPOSE))) ctx.throw(400, 'This sign-in step is already complete.');
    await deps.throttle.succeeded(account.username, ctx.ip);
    deps.metrics?.secondFactors.inc({ method: 'totp', result: 'enrolled' });
    deps.logger.info({ event: 'totp_enrolled', accountId: account.id, clientId: client?.clientId, duringSignIn: true }, 'authenticator app set up during sign-in');
    const login = secondFactorLogin(account.id, pending.payload, CODE_METHODS);
    const continueTo = await provider.interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false });
    sendPage(ctx, enrolledPage({ codes, continueTo }));
  }
}

