import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Router from '@koa/router';
import { PASSKEY_SCRIPT } from './views/passkey-script.js';
import { ACCOUNT_STYLES, STYLESHEET as BASE_STYLES } from './views/stylesheet.js';

const STYLESHEET = BASE_STYLES + ACCOUNT_STYLES;

const ETAG = `"${createHash('sha256').update(STYLESHEET).digest('base64url').slice(0, 16)}"`;

// MFA-1: @simplewebauthn/browser's self-contained build, from the project's own dependencies.
const WEBAUTHN_BROWSER = readFileSync(
  path.join(path.dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js'),
  'utf8',
);
const SCRIPTS: Record<string, string> = {
  '/assets/simplewebauthn-browser.js': WEBAUTHN_BROWSER,
  '/assets/passkeys.js': PASSKEY_SCRIPT,
};

/** Every asset path served here (the edge leaves them out of the per-address limit). */
export const ASSET_PATHS: ReadonlySet<string> = new Set(['/assets/gatehouse.css', ...Object.keys(SCRIPTS)]);

export function assetRoutes(): Router {
  const router = new Router();
  for (const [route, body] of Object.entries(SCRIPTS)) {
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
    router.get(route, (ctx) => {
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.set('ETag', etag);
      if (ctx.get('if-none-match') === etag) {
        ctx.status = 304;
        return;
      }
      ctx.type = 'text/javascript; charset=utf-8';
      ctx.body = body;
    });
  }
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
