/**
 * A passkey instead of the code at the second sign-in step (MFA-2 with MFA-1), for a user who has
 * an authenticator app and passkeys. Enforces: only once the first step is done (this
 * interaction's pending second factor names the user); the options allow only that user's
 * passkeys, and their challenge is kept bound to the interaction and the user for five minutes
 * and taken (single use) by the answer; anybody else's credential is refused whatever the
 * browser sends; every answer goes through the login throttle (API-2) under the user's name
 * before it is checked, like a code; the assertion checks of passkey-assertion.ts; success spends
 * the first step once. The ID token then says `urn:gatehouse:acr:mfa`, amr the first step's
 * methods plus "swk","user" (RFC 8176).
 */
import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Account } from '../accounts/store.js';
import type { InteractionState } from '../mfa/interaction-states.js';
import { assertionFromForm, claimedBy, verifyAssertion } from './passkey-assertion.js';
import type { PasskeySignInDependencies } from './passkey-sign-in.js';
import { PASSKEY_METHODS, PENDING_SECOND_FACTOR, secondFactorLogin, type PendingSecondFactor } from './pending-second-factor.js';
import { pageClient } from './page-client.js';
import { sendPage } from './respond.js';
import type { SecondFactorSignIn } from './second-factor.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface SecondFactorPasskeyDependencies extends PasskeySignInDependencies {
  /** The code page, shown again after a failed or throttled answer. */
  readonly secondFactor: SecondFactorSignIn;
}

const PURPOSE = 'second-factor-passkey-challenge';
const CHALLENGE_TTL_SECONDS = 5 * 60;
const EXPIRED = 'This sign-in has expired. Go back to the application and start again.';
const STEP_DONE = 'This sign-in step is already complete.';

const form = bodyParser({ enableTypes: ['form'], formLimit: '32kb', encoding: 'utf-8' });

interface PendingStep {
  readonly pending: InteractionState<PendingSecondFactor>;
  readonly account: Account;
}

/** The code step this interaction is at, if it is (not an enrolment, not the login page's passkey). */
async function codeStep(deps: SecondFactorPasskeyDependencies, details: Details): Promise<PendingStep | undefined> {
  const pending = await deps.states.get<PendingSecondFactor>(details.uid, PENDING_SECOND_FACTOR);
  if (!pending?.accountId || pending.payload.enrol || pending.payload.passkeyInstead) return undefined;
  const account = await deps.accounts.findById(pending.accountId);
  return account && !account.disabled ? { pending, account } : undefined;
}

export function registerSecondFactorPasskey(router: Router, deps: SecondFactorPasskeyDependencies): void {
  router.post('/:uid/second-factor/passkey/options', async (koa) => {
    const ctx: Context = koa as unknown as Context;
    const details = await deps.provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, STEP_DONE);
    const step = await codeStep(deps, details);
    if (!step) ctx.throw(400, EXPIRED);
    const passkeys = await deps.passkeys.list(step.account.id);
    if (!passkeys.length) ctx.throw(400, 'This account has no passkey. Enter a code instead.');
    const options = await deps.relyingParty.authenticationOptions(passkeys);
    await deps.states.put(details.uid, PURPOSE, step.account.id, { challenge: options.challenge }, CHALLENGE_TTL_SECONDS);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = options;
  });

  router.post('/:uid/second-factor/passkey', form, async (koa) => {
    const ctx: Context = koa as unknown as Context;
    const provider = deps.provider();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, STEP_DONE);
    const response = assertionFromForm(ctx.request.body);
    const step = await codeStep(deps, details);
    if (!step) ctx.throw(400, EXPIRED);
    const { account, pending } = step;
    const { client, clientName, formTargets } = await pageClient(provider, details);
    const retry = async (status: number, error: string) => {
      const page = await deps.secondFactor.pendingPage(details, clientName, error);
      if (page) sendPage(ctx, page, { status, formTargets });
    };
    // Single use: taken before anything else, so a replayed or parallel answer finds no challenge.
    const challenge = await deps.states.take<{ challenge: string }>(details.uid, PURPOSE);
    // API-2: counted before it is checked, like a code.
    const wait = await deps.throttle.begin(account.username, ctx.ip);
    if (wait > 0) {
      deps.logger.warn({ event: 'second_factor_throttled', method: 'passkey', accountId: account.id, ip: ctx.ip, wait }, 'second factor throttled');
      deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'throttled' });
      ctx.set('Retry-After', String(wait));
      await retry(429, `Too many failed attempts. Try again in ${wait} seconds.`);
      return;
    }
    const outcome = challenge && challenge.accountId === account.id
      ? await verifyAssertion(deps, response, await claimedBy(deps, response), challenge.payload.challenge, account.id)
      : { ok: false as const, reason: 'no_challenge' };
    if (!outcome.ok) {
      deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'failed' });
      deps.logger.warn({ event: 'second_factor_failed', method: 'passkey', reason: outcome.reason, accountId: account.id, ip: ctx.ip }, 'second factor failed');
      await retry(401, 'That passkey could not be used. Try again, or enter a code.');
      return;
    }
    // Spent once: a second request racing this one on another replica finds nothing to finish.
    if (!(await deps.states.take(details.uid, PENDING_SECOND_FACTOR))) ctx.throw(400, STEP_DONE);
    await deps.throttle.succeeded(account.username, ctx.ip);
    deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'ok' });
    deps.logger.info({ event: 'second_factor_succeeded', method: 'passkey', accountId: account.id, clientId: client?.clientId }, 'second factor accepted');
    const login = secondFactorLogin(account.id, pending.payload, PASSKEY_METHODS);
    const url = await provider.interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(url);
  });
}
