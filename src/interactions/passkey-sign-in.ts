/**
 * Sign-in with a passkey instead of a password (MFA-1). Enforces: the challenge is made by the
 * server per interaction, kept in the database for five minutes and taken (single use) by the
 * answer, whichever replica serves it; the credential must be registered and its account
 * enabled; the library checks origin, RP ID, challenge, signature, user verification and the
 * signature counter; the stored counter and backup state move forward only from the values the
 * check started from; a credential cannot change from device-bound to synced; a user handle, when
 * given, must name the credential's account. The ID token then
 * says `phr` + amr ["swk","user"] (RFC 8176, OpenID EAP); not `phrh`, since no attestation
 * proves the key is held in hardware.
 */
import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AccountStore } from '../accounts/store.js';
import type { InteractionStates } from '../mfa/interaction-states.js';
import type { PasskeyStore } from '../mfa/passkeys.js';
import { passkeySignIn, type RelyingParty } from '../mfa/webauthn.js';
import type { Metrics } from '../observability/metrics.js';
import { ValidationError, describeIssues } from '../validation.js';
import { sendPage } from './respond.js';
import { loginPage } from './views/pages.js';

export interface PasskeySignInDependencies {
  readonly provider: () => Provider;
  readonly accounts: AccountStore;
  readonly passkeys: PasskeyStore;
  readonly states: InteractionStates;
  readonly relyingParty: RelyingParty;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
}

const PURPOSE = 'passkey-challenge';
const CHALLENGE_TTL_SECONDS = 5 * 60;

// API-3: the one field the passkey form sends, holding the browser's assertion as JSON.
const passkeyForm = z.strictObject({ response: z.string().min(2).max(16_000) });
const assertion = z.object({
  id: z.string().min(1).max(1400),
  rawId: z.string().min(1).max(1400),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: z.string().max(4000),
    authenticatorData: z.string().max(4000),
    // Up to an ML-DSA-44 signature (2,420 bytes), which the library accepts where Node supports it.
    signature: z.string().max(8000),
    userHandle: z.string().max(200).optional(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});

const form = bodyParser({ enableTypes: ['form'], formLimit: '32kb', encoding: 'utf-8' });

function parseAssertion(text: string): AuthenticationResponseJSON | undefined {
  try {
    const parsed = assertion.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as AuthenticationResponseJSON) : undefined;
  } catch {
    return undefined;
  }
}

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
    const parsed = passkeyForm.safeParse(ctx.request.body ?? {});
    if (!parsed.success) throw new ValidationError(describeIssues(parsed.error));
    const client = await provider.Client.find(String(details.params['client_id']));
    const fail = (reason: string, accountId?: string) => {
      deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'failed' });
      deps.logger.warn({ event: 'passkey_sign_in_failed', reason, accountId, clientId: client?.clientId, ip: ctx.ip }, 'passkey sign-in failed');
      sendPage(ctx, loginPage({ uid: details.uid, clientName: client?.clientName ?? client?.clientId ?? 'the application', error: 'That passkey could not be used. Try again, or sign in with your password.' }), {
        status: 401,
        formTargets: client?.redirectUris ?? [],
      });
    };
    const response = parseAssertion(parsed.data.response);
    if (!response) throw new ValidationError(['response: not a WebAuthn assertion']);
    // Single use: taken before anything else, so a replayed or parallel answer finds no challenge.
    const challenge = await deps.states.take<{ challenge: string }>(details.uid, PURPOSE);
    if (!challenge) return fail('no_challenge');
    const passkey = await deps.passkeys.find(response.id);
    if (!passkey) return fail('unknown_credential');
    const account = await deps.accounts.findById(passkey.accountId);
    if (!account || account.disabled) return fail('account_unavailable', passkey.accountId);
    // The user handle is not signed, but when the authenticator gives one it must name the
    // credential's own account (WebAuthn §7.2 step 6): a mismatch is a forged or confused answer.
    const userHandle = response.response.userHandle;
    if (userHandle !== undefined && Buffer.from(userHandle, 'base64url').toString('utf8') !== passkey.accountId) return fail('user_handle_mismatch', account.id);
    const verified = await deps.relyingParty.verifyAuthentication(passkey, response, challenge.payload.challenge);
    if (!verified) return fail('not_verified', account.id);
    if (verified.deviceType !== passkey.deviceType) return fail('device_type_changed', account.id);
    if (!(await deps.passkeys.recordUse(passkey, verified.newCounter, verified.backedUp))) return fail('counter_raced', account.id);
    deps.metrics?.secondFactors.inc({ method: 'passkey', result: 'ok' });
    deps.metrics?.logins.inc({ result: 'ok' });
    deps.logger.info({ event: 'passkey_sign_in_succeeded', accountId: account.id, clientId: client?.clientId, backedUp: verified.backedUp }, 'signed in with a passkey');
    const login = { accountId: account.id, ...passkeySignIn(passkey.deviceType) };
    const url = await provider.interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(url);
  });
}
