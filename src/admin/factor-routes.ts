/**
 * Admin API for a user's sign-in factors (MFA, OPS-3): list them, reset them (which ends the
 * user's sessions), require multi-factor sign-in. The same domain functions as the CLI.
 */
import { bodyParser } from '@koa/bodyparser';
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
  readonly accountOf: (username: string) => Promise<Account>;
  readonly audit: (ctx: Context, action: string, target: string) => void;
}

const json = bodyParser({ enableTypes: ['json'], jsonLimit: '4kb', encoding: 'utf-8' });

export function registerFactorRoutes(router: Router, deps: FactorRouteDependencies): void {
  router.get('/users/:username/factors', deps.read, async (ctx) => {
    const account = await deps.accountOf(ctx.params['username'] ?? '');
    ctx.body = await describeFactors(deps.stores, account.id);
  });
  router.delete('/users/:username/factors', deps.write, async (ctx) => {
    const account = await deps.accountOf(ctx.params['username'] ?? '');
    const reset = await resetFactors(deps.stores, account.id);
    deps.audit(ctx as unknown as Context, 'user.factors_reset', account.username);
    ctx.body = reset;
  });
  router.put('/users/:username/mfa-required', deps.write, json, async (ctx) => {
    const { required } = parseOrThrow(mfaRequiredBody, ctx.request.body);
    const account = await deps.accountOf(ctx.params['username'] ?? '');
    await deps.stores.factors.setRequired(account.id, required);
    deps.audit(ctx as unknown as Context, required ? 'user.mfa_required' : 'user.mfa_optional', account.username);
    ctx.body = await describeFactors(deps.stores, account.id);
  });
}
