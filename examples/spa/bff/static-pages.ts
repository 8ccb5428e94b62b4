/**
 * Serves the SPA (plain ES modules, no build step) and sets the page's security headers: a CSP
 * with no inline script or style that lets the page talk only to its own origin and the demo API,
 * no framing, no referrer (the callback URL carries a code), no MIME sniffing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';

const PUBLIC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'public');

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/token-keeper.js': { file: 'token-keeper.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const escapeAttribute = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function staticPages(settings: { apiUrl: string }): Middleware {
  const bodies = new Map(
    Object.entries(FILES).map(([route, { file }]) => {
      const text = readFileSync(path.join(PUBLIC, file), 'utf8');
      return [route, file === 'index.html' ? text.replace('{{API_URL}}', escapeAttribute(settings.apiUrl)) : text];
    }),
  );
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src 'self' ${new URL(settings.apiUrl).origin}`,
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', policy);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    if (ctx.path === '/favicon.ico') {
      ctx.status = 204;
      return;
    }
    const served = ctx.method === 'GET' ? FILES[ctx.path] : undefined;
    if (!served) return next();
    ctx.type = served.type;
    ctx.body = bodies.get(ctx.path);
  };
}
