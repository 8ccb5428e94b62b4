import type { Context } from 'koa';
import { contentSecurityPolicy } from '../security/headers.js';
import type { SafeHtml } from './views/html.js';

/** Sends a page: HTML, never cached (it may show personal data), with its own form-action policy. */
export function sendPage(ctx: Context | { set(name: string, value: string): void; status: number; type: string; body: unknown }, page: SafeHtml, options: { status?: number; formTargets?: readonly string[] } = {}): void {
  ctx.status = options.status ?? 200;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Content-Security-Policy', contentSecurityPolicy(options.formTargets));
  ctx.body = page.value;
}
