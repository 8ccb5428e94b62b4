/**
 * POST at the authorization and logout endpoints (OIDC Core 3.1.2.1, RP-Initiated Logout 2:
 * servers MUST accept GET and POST; FLOW-10). Enforces: a form POST is answered with a 303 to
 * the same request as GET, so the browser returns as a top-level GET navigation — which carries
 * the `SameSite=Lax` session cookies that a cross-site POST does not. The engine's own POST
 * support (`enableHttpPostMethods`) stays off: it would need `SameSite=None` cookies. Bodies are
 * bounded; anything but a form is refused with a clear 4xx.
 */
import type { Middleware } from 'koa';
import { BodyTooLarge, readFormBody } from './request-body.js';
import { endpointOf } from './token-requests.js';

const FRONT_CHANNEL_ENDPOINTS = new Set(['/auth', '/session/end']);
// The form travels on as the Location of the 303 and then as the GET's request line, which must
// fit Node's 16 KiB header limit with the rest of the browser's headers.
const FRONT_CHANNEL_LIMIT = 8 * 1024;

export function frontChannelPostAsGet(): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !FRONT_CHANNEL_ENDPOINTS.has(endpointOf(ctx.path))) return next();
    ctx.set('Cache-Control', 'no-store');
    if (!ctx.is('application/x-www-form-urlencoded')) {
      ctx.status = 415;
      ctx.type = 'text/plain';
      ctx.body = 'This endpoint accepts GET, or POST with an application/x-www-form-urlencoded form.';
      return;
    }
    // Over the limit (413) or unreadable (400): answered by the error boundary, as on every endpoint.
    const body = await readFormBody(ctx.req);
    // Re-encoded (not copied), so the Location is a well-formed URL; repeated names stay
    // repeated for the engine to refuse as it does on GET.
    const params = new URLSearchParams(ctx.querystring);
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) params.append(name, value);
    if (ctx.path.length + params.toString().length > FRONT_CHANNEL_LIMIT) {
      throw new BodyTooLarge(FRONT_CHANNEL_LIMIT, ': push a larger authorization request to the PAR endpoint instead');
    }
    ctx.status = 303;
    ctx.redirect(`${ctx.path}?${params.toString()}`);
  };
}
