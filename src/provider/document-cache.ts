/**
 * Discovery and JWKS are the same for every request to one provider instance (per public host),
 * but the engine rebuilds them each time. This caches them per instance — a rebuilt instance
 * (new keys, new APIs) starts with an empty cache — and answers from memory, with the CORS
 * header the engine would have added (the edge has already removed it for foreign origins).
 */
import type { Middleware } from 'koa';

const CACHED_PATHS = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks']);

interface Document {
  readonly body: string;
  readonly type: string;
  readonly cacheControl: string | undefined;
}

export function documentCache(issuer: string): Middleware {
  const documents = new Map<string, Document>();
  return async (ctx, next) => {
    if (ctx.method !== 'GET' || !CACHED_PATHS.has(ctx.path) || ctx.querystring) return next();
    // The engine builds the document from the request's own URL (Host, or an absolute request
    // line): only a request addressed exactly to the issuer may fill or read the shared copy.
    const key = `${issuer}${ctx.path}`;
    if (ctx.href !== key || !ctx.originalUrl.startsWith('/')) return next();
    const cached = documents.get(key);
    if (cached) {
      const origin = ctx.get('origin');
      if (origin) {
        ctx.vary('Origin');
        ctx.set('Access-Control-Allow-Origin', origin);
      }
      if (cached.cacheControl) ctx.set('Cache-Control', cached.cacheControl);
      ctx.type = cached.type;
      ctx.body = cached.body;
      return;
    }
    await next();
    if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      documents.set(key, {
        body: JSON.stringify(ctx.body),
        type: ctx.response.get('content-type') || 'application/json; charset=utf-8',
        cacheControl: ctx.response.get('cache-control') || undefined,
      });
    }
  };
}
