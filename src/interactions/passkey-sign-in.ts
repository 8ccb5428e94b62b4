/**
 * Sign-in with a passkey instead of a password (MFA-1). Enforces: the challenge is made by the
 * server per interaction, kept in the database for five minutes and taken (single use) by the
 * answer, whichever replica serves it; every answer goes through the login throttle (API-2)
 * before it is checked, like a password, and a throttled one is not checked at all; the
 * assertion checks of passkey-assertion.ts. The ID token then says `phr` + amr ["swk","user"]
 * (RFC 8176, OpenID EAP); not `phrh`, since no attestation proves the key is held in hardware.
 */
import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { AccountStore } from '../accounts/store.js';
import type { InteractionStates } from '../mfa/interaction-states.js';
import type { PasskeyStore } from '../mfa/passkeys.js';
import type { RelyingParty } from '../mfa/webauthn.js';
import { PASSKEY_SIGN_IN } from '../accounts/authentication-context.js';
import type { Metrics } from '../observability/metrics.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import { assertionFromForm, claimedBy, throttleName, verifyAssertion } from './passkey-assertion.js';
import { pageClient } from './page-client.js';
import { sendPage } from './respond.js';
import { loginPage } from './views/pages.js';

export interface PasskeySignInDependencies {
  readonly provider: () => Provider;
  readonly accounts: AccountStore;
  readonly passkeys: PasskeyStore;
  readonly states: InteractionStates;
  readonly relyingParty: RelyingParty;
  readonly throttle: LoginThrottle;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
}

const PURPOSE = 'passkey-challenge';
const CHALLENGE_TTL_SECONDS = 5 * 60;

const form = bodyParser({ enableTypes: ['form'], formLimit: '32kb', encoding: 'utf-8' });

export function registerPasskeySignIn(router: Router, deps: PasskeySignInDependencies): void {
  router.post('/:uid/passkey/options', async (ctx) => {
    const details = await deps.provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, 'this sign-in step is already complete');
    const options = await deps.relyingParty.authenticationOptions();
    await deps.states.put(details.uid, PURPOSE, undefined, { challenge: options.challenge }, CHALLENGE_TTL_SECONDS);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = options;
  });

  router.post('/:uid/passkey', form, async (koa) => {
    const ctx = koa as unknown as Context;
    const provider = deps.provider();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, 'this sign-in step is already complete');
    const response = assertionFromForm(ctx.request.body);
    const { client, clientName, formTargets } = await pageClient(provider, details);
    const answer = (status: number, error: string) => sendPage(ctx, loginPage({ uid: details.uid, clientName, error }), { status, formTargets });
    const fail = (reason: string, accountId?: string) => {
      deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'failed' });
      deps.logger.warn({ event: 'passkey_sign_in_failed', reason, accountId, clientId: client?.clientId, ip: ctx.ip }, 'passkey sign-in failed');
      answer(401, 'That passkey could not be used. Try again, or sign in with your password.');
    };
    // Single use: taken before anything else, so a replayed or parallel answer finds no challenge.
    const challenge = await deps.states.take<{ challenge: string }>(details.uid, PURPOSE);
    const claimed = await claimedBy(deps, response);
    const name = throttleName(response, claimed);
    // API-2: counted before it is checked, whatever is wrong with it, like a password.
    const wait = await deps.throttle.begin(name, ctx.ip);
    if (wait > 0) {
      deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'throttled' });
      deps.logger.warn({ event: 'passkey_sign_in_throttled', accountId: claimed.account?.id, clientId: client?.clientId, ip: ctx.ip, wait }, 'passkey sign-in throttled');
      ctx.set('Retry-After', String(wait));
      answer(429, `Too many failed sign-in attempts. Try again in ${wait} seconds.`);
      return;
    }
    if (!challenge) return fail('no_challenge', claimed.account?.id);
    const outcome = await verifyAssertion(deps, response, claimed, challenge.payload.challenge);
    if (!outcome.ok) return fail(outcome.reason, outcome.accountId);
    const { account } = outcome;
    await deps.throttle.succeeded(name, ctx.ip);
    deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'ok' });
    deps.metrics?.logins.inc({ result: 'ok' });
    deps.logger.info({ event: 'passkey_sign_in_succeeded', accountId: account.id, clientId: client?.clientId, backedUp: outcome.backedUp }, 'signed in with a passkey');
    const login = { accountId: account.id, acr: PASSKEY_SIGN_IN.acr, amr: [...PASSKEY_SIGN_IN.amr] };
    const url = await provider.interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(url);
  });
}
