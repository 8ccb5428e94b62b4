/**
 * The edge's view of token, introspection and revocation requests: reads the form body once
 * (bounded), notes which client is calling (for per-client limits) and swaps a JWT access token
 * for a handle at introspection and revocation (see src/provider/structured-tokens.ts). The
 * engine later reads an identical — or, for a JWT, rewritten — copy of the body.
 */
import { stringify } from 'node:querystring';
import type { Middleware } from 'koa';
import { attachSubstitution, substitutionFor } from '../provider/structured-tokens.js';
import { BodyTooLarge, clientIdOf, parseForm, readFormBody, replayRequest } from './request-body.js';

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
    if (endpoint === '/token') {
      const fromHeader = clientIdOf(ctx.get('authorization') || undefined, {});
      if (fromHeader) {
        ctx.state['clientId'] = fromHeader;
        return next();
      }
    }
    if (!ctx.is('application/x-www-form-urlencoded')) return next();
    let body: Buffer;
    try {
      body = await readFormBody(ctx.req);
    } catch (error) {
      ctx.status = error instanceof BodyTooLarge ? 413 : 400;
      ctx.body = {
        error: 'invalid_request',
        error_description: error instanceof BodyTooLarge ? 'the request body is too large' : 'the request body could not be read',
      };
      return;
    }
    const form = parseForm(body);
    ctx.state['clientId'] = clientIdOf(ctx.get('authorization') || undefined, form);
    const substitution = endpoint === '/token' ? undefined : substitutionFor(form['token']);
    if (substitution) {
      const engineRequest = replayRequest(ctx.req, Buffer.from(stringify({ ...form, token: substitution.handle }), 'utf8'));
      attachSubstitution(engineRequest, substitution);
      ctx.state['engineRequest'] = engineRequest;
    } else {
      ctx.state['engineRequest'] = replayRequest(ctx.req, body);
    }
    return next();
  };
}
