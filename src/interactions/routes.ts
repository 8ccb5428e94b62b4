/**
 * The sign-in journey oidc-provider hands over to us: login and consent. Enforces: the
 * interaction must belong to this browser (the engine's interaction cookie), credentials are
 * checked at constant cost with a message that does not say whether the account exists,
 * consent grants exactly what the engine reported missing, and every page ends in a redirect
 * the engine computes (never one we build from input).
 */
import { bodyParser } from '@koa/bodyparser';
import { BODY_LIMIT } from '../security/request-body.js';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors as oidcErrors } from 'oidc-provider';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AccountStore } from '../accounts/store.js';
import type { ResourceServerStore } from '../apis/store.js';
import { ACCOUNT_CLIENT_ID } from '../account-ui/account-client.js';
import { describePermissions } from './permissions.js';
import { PASSWORD_SIGN_IN, canSatisfy, isMultiFactor, requestedAcrValues, type AcrRequest } from '../accounts/authentication-context.js';
import { ValidationError, describeIssues } from '../validation.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import type { Metrics } from '../observability/metrics.js';
import { sendPage } from './respond.js';
import { clientFormTargets } from '../security/headers.js';
import { consentPage, errorPage, loginPage } from './views/pages.js';
import type { SecondFactorSignIn } from './second-factor.js';
import { registerPasskeySignIn, type PasskeySignInDependencies } from './passkey-sign-in.js';
import { registerSecondFactorPasskey } from './second-factor-passkey.js';

export interface InteractionDependencies {
  readonly provider: () => Provider;
  readonly accounts: AccountStore;
  readonly resourceServers: ResourceServerStore;
  readonly logger: Logger;
  readonly throttle: LoginThrottle;
  readonly metrics?: Metrics;
  /** MFA-2: the code step after the password, for accounts that have a second factor. */
  readonly secondFactor?: SecondFactorSignIn;
  /** MFA-1: sign-in with a passkey instead of a password (through the same `throttle`). */
  readonly passkeys?: Omit<PasskeySignInDependencies, 'throttle'>;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

// API-3: exactly the fields the login page sends.
const loginForm = z.strictObject({
  username: z.string().trim().min(1).max(64),
  password: z.string().min(1).max(1024),
});

// FLOW-6: what happened and what to do, in plain words (a form sent twice, or from an old tab).
const STEP_DONE = 'This step of the sign-in is already done (perhaps in another tab or by going back). Go back to the application: if it does not show you as signed in, start again from there.';

const form = bodyParser({ enableTypes: ['form'], formLimit: BODY_LIMIT, encoding: 'utf-8' });

async function clientOf(provider: Provider, details: Details) {
  const client = await provider.Client.find(String(details.params['client_id']));
  if (!client) throw new oidcErrors.InvalidClient('client not found');
  return client;
}

function redirectTo(ctx: Context, url: string): void {
  ctx.status = 303;
  ctx.redirect(url);
}

/** Consent: grants exactly what the engine reported missing, then hands back to the engine. */
async function grantMissingAndFinish(provider: Provider, ctx: Context, details: Details): Promise<string> {
  const accountId = details.session?.accountId;
  if (details.prompt.name !== 'consent' || !accountId) return ctx.throw(400, STEP_DONE);
  const missing = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: String(details.params['client_id']) });
  if (!grant) return ctx.throw(400, 'This sign-in was ended meanwhile, for example by signing out in another tab. Go back to the application and start again.');
  if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

/** The error to end the sign-in with when the client made an `acr` essential that no sign-in method here yields. */
async function unmetEssentialAcr(details: Details, secondFactor: SecondFactorSignIn | undefined): Promise<{ error: string; error_description: string } | undefined> {
  const { reasons } = details.prompt;
  if (!reasons.includes('essential_acr') && !reasons.includes('essential_acrs')) return undefined;
  const request = (details.prompt.details as { acr?: AcrRequest }).acr;
  if (!request?.essential) return undefined;
  const requested = requestedAcrValues(request);
  if (!canSatisfy(requested)) {
    return {
      error: 'unmet_authentication_requirements',
      error_description: 'none of the requested authentication context classes (acr) can be met by this server',
    };
  }
  // Multi-factor already, of another class than asked for: if the only step this account would be
  // offered next gives that class again (a code when `phr` is asked for, a passkey when mfa is),
  // the engine would ask again after it, and the sign-in would go round forever.
  const given = details.session?.['acr'];
  const accountId = details.session?.accountId;
  if (
    secondFactor && accountId && typeof given === 'string' && isMultiFactor(given) && !requested.includes(given) &&
    !requested.includes(await secondFactor.nextStepAcr(accountId))
  ) {
    return {
      error: 'unmet_authentication_requirements',
      error_description: `this sign-in was multi-factor (${given}), but not of the requested class`,
    };
  }
  return undefined;
}

export function interactionRoutes(deps: InteractionDependencies): Router {
  const router = new Router({ prefix: '/interaction' });

  // The interaction cookie is missing or expired: a friendly page, not an engine error.
  router.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (error instanceof oidcErrors.SessionNotFound || error instanceof oidcErrors.InvalidClient) {
        sendPage(
          ctx,
          errorPage({
            title: 'Sign-in expired',
            message: 'This sign-in page has expired or was opened in another browser. Go back to the application and start again.',
            code: 'interaction_expired',
          }),
          { status: 400 },
        );
        return;
      }
      throw error;
    }
  });

  router.get('/:uid', async (ctx) => {
    const provider = deps.provider();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const client = await clientOf(provider, details);
    const clientName = client.clientName ?? client.clientId;
    const formTargets = clientFormTargets(client, details.params['redirect_uri']);
    if (details.prompt.name === 'login') {
      const unmet = await unmetEssentialAcr(details, deps.secondFactor);
      if (unmet) {
        // OIDC Core 5.5.1.1: an essential acr that cannot be met is a failed authentication.
        const url = await provider.interactionResult(ctx.req, ctx.res, unmet, { mergeWithLastSubmission: false });
        redirectTo(ctx, url);
        return;
      }
      const secondStep = await deps.secondFactor?.nextStep(ctx, details, clientName);
      if (secondStep && 'redirect' in secondStep) {
        redirectTo(ctx, secondStep.redirect);
        return;
      }
      if (secondStep) {
        sendPage(ctx, secondStep.page, { formTargets });
        return;
      }
      sendPage(ctx, loginPage({ uid: details.uid, clientName }), { formTargets });
      return;
    }
    if (details.prompt.name === 'consent' && client.clientId === ACCOUNT_CLIENT_ID) {
      // The account area is Gatehouse itself: there is nothing to consent to.
      redirectTo(ctx, await grantMissingAndFinish(provider, ctx, details));
      return;
    }
    if (details.prompt.name === 'consent') {
      const account = details.session?.accountId ? await deps.accounts.findById(details.session.accountId) : undefined;
      const missing = details.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      const permissions = describePermissions(
        missing.missingOIDCScope ?? [],
        new Map(Object.entries(missing.missingResourceScopes ?? {})),
        await deps.resourceServers.all(),
        missing.missingOIDCClaims ?? [],
      );
      sendPage(ctx, consentPage({ uid: details.uid, clientName, username: account?.username ?? 'your account', permissions }), { formTargets });
      return;
    }
    ctx.throw(400, 'This sign-in needs a step Gatehouse cannot show here. Go back to the application and start again.');
  });

  router.post('/:uid/login', form, async (ctx) => {
    const provider = deps.provider();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, STEP_DONE);
    const client = await clientOf(provider, details);
    const parsed = loginForm.safeParse(ctx.request.body ?? {});
    if (!parsed.success && parsed.error.issues.some((issue) => issue.code === 'unrecognized_keys')) {
      throw new ValidationError(describeIssues(parsed.error));
    }
    const typed = (ctx.request.body as Record<string, unknown> | undefined)?.['username'];
    const username = typeof typed === 'string' ? typed.trim().slice(0, 64) : '';
    const retry = (status: number, error: string) =>
      sendPage(ctx, loginPage({ uid: details.uid, clientName: client.clientName ?? client.clientId, username, error }), {
        status,
        formTargets: clientFormTargets(client, details.params['redirect_uri']),
      });

    // API-2: every attempt is counted before its password is checked; a throttled one is not
    // checked at all (so guessing gains nothing, in series or in parallel).
    const wait = await deps.throttle.begin(username, ctx.ip);
    if (wait > 0) {
      deps.logger.warn({ event: 'login_throttled', username, clientId: client.clientId, ip: ctx.ip, wait }, 'login throttled');
      ctx.set('Retry-After', String(wait));
      deps.metrics?.logins.inc({ result: 'throttled' });
      retry(429, `Too many failed sign-in attempts. Try again in ${wait} seconds.`);
      return;
    }
    const account = parsed.success ? await deps.accounts.authenticate(parsed.data.username, parsed.data.password) : undefined;
    if (!account) {
      deps.metrics?.logins.inc({ result: 'failed' });
      deps.logger.warn({ event: 'login_failed', username, clientId: client.clientId, ip: ctx.ip }, 'login failed');
      retry(401, 'The username or password is incorrect.');
      return;
    }
    await deps.throttle.succeeded(username, ctx.ip);
    deps.metrics?.logins.inc({ result: 'ok' });
    deps.logger.info({ event: 'login_succeeded', accountId: account.id, clientId: client.clientId }, 'login succeeded');
    const login = { accountId: account.id, acr: PASSWORD_SIGN_IN.acr, amr: [...PASSWORD_SIGN_IN.amr] };
    const url = deps.secondFactor
      ? await deps.secondFactor.afterPassword(ctx, details, account)
      : await provider.interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false });
    redirectTo(ctx, url);
  });

  deps.secondFactor?.register(router);
  if (deps.passkeys) {
    const passkeys = { ...deps.passkeys, throttle: deps.throttle };
    registerPasskeySignIn(router, passkeys);
    // A passkey instead of the code, for users who have both.
    if (deps.secondFactor) registerSecondFactorPasskey(router, { ...passkeys, secondFactor: deps.secondFactor });
  }

  router.post('/:uid/confirm', form, async (ctx) => {
    const provider = deps.provider();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    redirectTo(ctx, await grantMissingAndFinish(provider, ctx, details));
  });

  router.post('/:uid/abort', form, async (ctx) => {
    const provider = deps.provider();
    await provider.interactionDetails(ctx.req, ctx.res);
    const url = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'The user denied the request' },
      { mergeWithLastSubmission: false },
    );
    redirectTo(ctx, url);
  });

  return router;
}
