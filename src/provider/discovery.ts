/**
 * What discovery advertises (FLOW-6). Enforces: `scopes_supported` lists the scopes relying
 * parties may ask for — OpenID Connect's and registered APIs' — never the admin API's own
 * `admin:*` scopes, which the engine must know (so the admin client can register them) but
 * which are Gatehouse's internal business.
 */
import type { Middleware } from 'koa';

// Both /.well-known documents are the engine's route "discovery".

export function relyingPartyScopesOnly(internalScopes: readonly string[]): Middleware {
  const hidden = new Set(internalScopes);
  return async (ctx, next) => {
    await next();
    const route = (ctx as { oidc?: { route?: string } }).oidc?.route;
    const body = ctx.body as { scopes_supported?: unknown } | undefined;
    if (route !== 'discovery' || !body || !Array.isArray(body.scopes_supported)) return;
    body.scopes_supported = body.scopes_supported.filter((scope) => !hidden.has(scope as string));
  };
}
