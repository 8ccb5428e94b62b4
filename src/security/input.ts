/**
 * Edge input checks every endpoint shares. A NUL character cannot be stored by PostgreSQL and
 * has no business in any OAuth parameter: refuse it up front with a plain 400.
 */
import type { Middleware } from 'koa';

export function rejectNulInUrl(): Middleware {
  return async (ctx, next) => {
    if (/%00/.test(ctx.url)) {
      ctx.status = 400;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_request', error_description: 'the request must not contain NUL characters' };
      return;
    }
    await next();
  };
}
