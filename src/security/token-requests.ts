/**
 * The edge's view of token, introspection and revocation requests: reads the form body once
 * (bounded), notes which client is calling (for per-client limits) and swaps a JWT access token
 * for a handle at introspection and revocation (see src/provider/structured-tokens.ts). The
 * engine later reads an identical — or, for a JWT, rewritten — copy of the body.
 */
import { stringify } from 'node:querystring';
import type { Middleware } from 'koa';
import { attachSubstitution, substitutionFor } from '../provider/structured-tokens.js';
import { clientIdOf, parseForm, readFormBody, replaceBody } from './request-body.js';

// `/request` (pushed authorization requests) authenticates clients too, and stores a record per
// call: it counts against the client's limit like the token endpoint.
const TOKEN_ENDPOINTS = new Set(['/token', '/token/introspection', '/token/revocation', '/request']);

/** The engine's router ignores case and a trailing slash; so must the edge, or `/TOKEN/` slips past. */
export function endpointOf(path: string): string {
  const folded = path.toLowerCase();
  return folded.length > 1 && folded.endsWith('/') ? folded.slice(0, -1) : folded;
}

export function tokenRequests(): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    const endpoint = endpointOf(ctx.path);
    if (!TOKEN_ENDPOINTS.has(endpoint)) return next();
    // The hot path: a token request with Basic credentials names its client in the header, and
    // only introspection and revocation can carry a JWT to swap, so the body stays unread (and
    // its media type is the engine's to judge).
    // A chunked body is read here all the same: its size is known only once read (item 1).
    if (endpoint === '/token' && ctx.req.headers['content-length'] !== undefined) {
      const fromHeader = clientIdOf(ctx.get('authorization') || undefined, {});
      if (fromHeader) {
        ctx.state['clientId'] = fromHeader;
        return next();
      }
    }
    if (!ctx.is('application/x-www-form-urlencoded')) return next();
    // Over the limit: BodyTooLarge, answered 413 by the error boundary like every endpoint's.
    const body = await readFormBody(ctx.req);
    const form = parseForm(body);
    ctx.state['clientId'] = clientIdOf(ctx.get('authorization') || undefined, form);
    const substitution = endpoint === '/token' ? undefined : substitutionFor(form['token']);
    if (substitution) attachSubstitution(replaceBody(ctx, Buffer.from(stringify({ ...form, token: substitution.handle }), 'utf8')), substitution);
    else replaceBody(ctx, body);
    return next();
  };
}
