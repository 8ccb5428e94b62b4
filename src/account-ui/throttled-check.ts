/**
 * A check of something the user knows (the current password, a first authenticator code) from
 * inside the account area. Enforces API-2 there too: every attempt is counted under the account's
 * username before it is checked, exactly like a sign-in, and a throttled one is not checked at
 * all — so a stolen session cookie is no faster a guessing oracle than the login page.
 */
import type { Context } from 'koa';
import type { LoginThrottle } from '../security/login-throttle.js';

export type ThrottledResult = { readonly ok: true } | { readonly ok: false; readonly wait?: number };

export async function throttledCheck(throttle: LoginThrottle, ctx: Context, username: string, check: () => Promise<boolean>): Promise<ThrottledResult> {
  const wait = await throttle.begin(username, ctx.ip);
  if (wait > 0) {
    ctx.set('Retry-After', String(wait));
    return { ok: false, wait };
  }
  if (!(await check())) return { ok: false };
  await throttle.succeeded(username, ctx.ip);
  return { ok: true };
}

/** What to tell the user after a throttled attempt. */
export const tooManyAttempts = (wait: number) => `Too many wrong attempts. Try again in ${wait} seconds.`;
