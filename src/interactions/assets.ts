import { createHash } from 'node:crypto';
import Router from '@koa/router';
import { ACCOUNT_STYLES, STYLESHEET as BASE_STYLES } from './views/stylesheet.js';

const STYLESHEET = BASE_STYLES + ACCOUNT_STYLES;

const ETAG = `"${createHash('sha256').update(STYLESHEET).digest('base64url').slice(0, 16)}"`;

export function assetRoutes(): Router {
  const router = new Router();
  router.get('/assets/gatehouse.css', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('ETag', ETAG);
    if (ctx.get('if-none-match') === ETAG) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = STYLESHEET;
  });
  return router;
}
