/**
 * CORS (NET-4). Browsers may call only the endpoints a browser app needs — token, userinfo,
 * revocation, pushed authorization requests, JWKS, discovery — and only from a web origin some
 * client registered (the origins of its redirect URIs). The allowed origin is echoed, never `*`,
 * never with credentials; methods and request headers are limited. Anything else gets no CORS
 * headers, whatever the engine says.
 */
import type { ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import { endpointOf } from './token-requests.js';

const BROWSER_ENDPOINTS: Record<string, string> = {
  '/token': 'POST',
  '/token/revocation': 'POST',
  // Pushed authorization requests (RFC 9126): a public browser client pushes its own.
  '/request': 'POST',
  '/me': 'GET, POST',
  '/jwks': 'GET',
  '/.well-known/openid-configuration': 'GET',
  '/.well-known/oauth-authorization-server': 'GET',
};
const ALLOWED_REQUEST_HEADERS = new Set(['authorization', 'content-type', 'dpop']);
const PREFLIGHT_MAX_AGE = '600';

/** Origins of a client's http(s) redirect URIs: where its browser code runs. */
export function webOriginsOf(redirectUris: readonly string[] | undefined): string[] {
  return (redirectUris ?? [])
    .filter((uri) => /^https?:\/\//.test(uri) && URL.canParse(uri))
    .map((uri) => new URL(uri).origin);
}

function withoutCorsHeaders(res: ServerResponse): void {
  const setHeader = res.setHeader.bind(res);
  res.setHeader = ((name: string, value: number | string | readonly string[]) =>
    name.toLowerCase().startsWith('access-control-') ? res : setHeader(name, value)) as ServerResponse['setHeader'];
}

export function corsPolicy(registeredOrigins: () => Promise<ReadonlySet<string>>): Middleware {
  return async (ctx, next) => {
    const origin = ctx.get('origin');
    if (!origin) return next();
    ctx.vary('Origin');
    const methods = BROWSER_ENDPOINTS[endpointOf(ctx.path)];
    const allowed = methods !== undefined && (await registeredOrigins()).has(origin);
    if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method')) {
      ctx.status = 204;
      if (!allowed) return;
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Methods', methods);
      const requested = ctx
        .get('access-control-request-headers')
        .split(',')
        .map((header) => header.trim().toLowerCase())
        .filter((header) => ALLOWED_REQUEST_HEADERS.has(header));
      if (requested.length) ctx.set('Access-Control-Allow-Headers', requested.join(', '));
      ctx.set('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
      return;
    }
    if (!allowed) withoutCorsHeaders(ctx.res);
    return next();
  };
}
