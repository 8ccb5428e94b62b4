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

const TOKEN_ENDPOINTS = new Set(['/token', '/token/introspection', '/token/revocation']);

export function tokenRequests(): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !TOKEN_ENDPOINTS.has(ctx.path) || !ctx.is('application/x-www-form-urlencoded')) return next();
    // The hot path: a token request with Basic credentials names its client in the header, and
    // only introspection and revocation can carry a JWT to swap, so the body stays unread.
    if (ctx.path === '/token') {
      const fromHeader = clientIdOf(ctx.get('authorization') || undefined, {});
      if (fromHeader) {
        ctx.state['clientId'] = fromHeader;
        return next();
      }
    }
    let body: Buffer;
    try {
      body = await readFormBody(ctx.req);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        ctx.status = 413;
        ctx.body = { error: 'invalid_request', error_description: 'the request body is too large' };
        return;
      }
      throw error;
    }
    const form = parseForm(body);
    ctx.state['clientId'] = clientIdOf(ctx.get('authorization') || undefined, form);
    const substitution = ctx.path === '/token' ? undefined : substitutionFor(form['token']);
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
