/**
 * The edge's body limit (API-5, issue 13 item 1): one limit (BODY_LIMIT) and one answer (413
 * with an OAuth error body, or a page for people, from the error boundary) for every endpoint.
 * A declared length over the limit is refused before a byte is read. A chunked body bound for
 * the engine is read here, bounded, and replayed to it — the engine would otherwise answer an
 * oversized one with `400 failed to parse`. Host routes read their own bodies with the same
 * limit (their parsers' 413 reaches the same boundary). Runs after the per-address limit.
 */
import type { Middleware } from 'koa';
import { BODY_LIMIT, BodyTooLarge, readFormBody, replaceBody } from './request-body.js';

export function bodyLimit(isHostPath: (path: string) => boolean): Middleware {
  return async (ctx, next) => {
    // The hot path: a declared length, one comparison.
    const declared = ctx.req.headers['content-length'];
    if (declared !== undefined) {
      if (Number(declared) > BODY_LIMIT) throw new BodyTooLarge();
      return next();
    }
    // A body an earlier step read was replaced by one with a declared length (above).
    if (ctx.req.headers['transfer-encoding'] === undefined || isHostPath(ctx.path)) return next();
    replaceBody(ctx, await readFormBody(ctx.req));
    return next();
  };
}
