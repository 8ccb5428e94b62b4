/**
 * Admin API for initial access tokens (FLOW-11): issue (the token is in this one response
 * only), list (state, uses, expiry; never the token), revoke.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { initialAccessTokenRequest, type InitialAccessTokenStore } from '../registration/initial-access-tokens.js';
import { parseOrThrow } from '../validation.js';

export interface InitialAccessTokenRouteOptions {
  readonly tokens: InitialAccessTokenStore;
  readonly read: Middleware;
  readonly write: Middleware;
  readonly json: Middleware;
  readonly audit: (ctx: Context, action: string, target: string) => void;
}

export function addInitialAccessTokenRoutes(router: Router, { tokens, read, write, json, audit }: InitialAccessTokenRouteOptions): void {
  router.get('/initial-access-tokens', read, async (ctx) => {
    ctx.body = await tokens.list();
  });
  router.post('/initial-access-tokens', write, json, async (ctx) => {
    const issued = await tokens.issue(parseOrThrow(initialAccessTokenRequest, ctx.request.body ?? {}));
    audit(ctx, 'initial_access_token.create', issued.id);
    ctx.status = 201;
    ctx.body = issued;
  });
  router.delete('/initial-access-tokens/:id', write, async (ctx) => {
    const id = ctx.params['id'] ?? '';
    if (!(await tokens.revoke(id))) {
      ctx.status = 404;
      ctx.body = { error: 'not_found', error_description: 'no active initial access token with this id' };
      return;
    }
    audit(ctx, 'initial_access_token.revoke', id);
    ctx.status = 204;
  });
}
