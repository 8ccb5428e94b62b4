/**
 * Admin API for a user's sign-in factors (MFA, OPS-3): list them, reset them (which ends the
 * user's sessions), require multi-factor sign-in. The same domain functions as the CLI.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Account } from '../accounts/store.js';
import { describeFactors, resetFactors, type FactorStores } from '../mfa/account-factors.js';
import { parseOrThrow } from '../validation.js';
import { mfaRequiredBody } from './schemas.js';

export interface FactorRouteDependencies {
  readonly stores: FactorStores;
  readonly read: Middleware;
  readonly write: Middleware;
  /** The admin API's JSON body step (its body limit and input checks). */
  readonly json: Middleware;
  readonly accountOf: (username: string) => Promise<Account>;
  readonly audit: (ctx: Context, action: string, target: string) => void;
}

export function registerFactorRoutes(router: Router, deps: FactorRouteDependencies): void {
  router.get('/users/:username/factors', deps.read, async (ctx) => {
    const account = await deps.accountOf(ctx.params['username'] ?? '');
    ctx.body = await describeFactors(deps.stores, account.id);
  });
  router.delete('/users/:username/factors', deps.write, async (ctx) => {
    const account = await deps.accountOf(ctx.params['username'] ?? '');
    const reset = await resetFactors(deps.stores, account.id);
    deps.audit(ctx, 'user.factors_reset', account.username);
    ctx.body = reset;
  });
  router.put('/users/:username/mfa-required', deps.write, deps.json, async (ctx) => {
    const { required } = parseOrThrow(mfaRequiredBody, ctx.request.body);
    const account = await deps.accountOf(ctx.params['username'] ?? '');
    await deps.stores.factors.setRequired(account.id, required);
    deps.audit(ctx, required ? 'user.mfa_required' : 'user.mfa_optional', account.username);
    ctx.body = await describeFactors(deps.stores, account.id);
  });
}
