/**
 * Recent re-authentication for changes that could lock the owner out or let an intruder stay
 * (removing a second factor or a passkey, changing the password; issue 14, SESS-10). Enforces:
 * the browser session's sign-in must be at most RECENT_SIGN_IN_SECONDS old; otherwise the user
 * is sent through a fresh sign-in (`prompt=login`, which asks for every factor the account has)
 * and brought back to the page they were on — only to a path of the account area.
 */
import type { Context } from 'koa';
import { sendPage } from '../interactions/respond.js';
import { html } from '../interactions/views/html.js';
import { accountSignInUrl } from './account-client.js';
import { accountLayout } from './views.js';

export const RECENT_SIGN_IN_SECONDS = 10 * 60;

const RETURN_PATH = /^\/account(\/[a-z-]+)*$/;

/** The account-area path a finished sign-in should return to (from the state it carried), or /account. */
export function returnPathOf(state: unknown): string {
  const path = typeof state === 'string' ? state.split('~')[1] : undefined;
  return path && RETURN_PATH.test(path) ? path : '/account';
}

/** A sign-in that asks for everything again and comes back to `returnTo`. */
export function reauthenticationUrl(issuer: string, returnTo: string): string {
  const url = new URL(accountSignInUrl(issuer));
  url.searchParams.set('prompt', 'login');
  url.searchParams.set('state', `${url.searchParams.get('state') ?? ''}~${RETURN_PATH.test(returnTo) ? returnTo : '/account'}`);
  return url.toString();
}

export function signedInRecently(loginTs: number | undefined, now = Date.now()): boolean {
  return typeof loginTs === 'number' && now / 1000 - loginTs <= RECENT_SIGN_IN_SECONDS;
}

/** Sends the "confirm it's you" page unless the session signed in recently; returns whether it may go on. */
export function requireRecentSignIn(ctx: Context, user: { csrf: string; loginTs?: number | undefined }, issuer: string, returnTo: string): boolean {
  if (signedInRecently(user.loginTs)) return true;
  sendPage(
    ctx,
    accountLayout(
      'Confirm it is you',
      user.csrf,
      html`<h1>Confirm it is you</h1>
<p class="lead">You signed in more than ${RECENT_SIGN_IN_SECONDS / 60} minutes ago. To change how you sign in, sign in again first.</p>
<p><a class="button" href="${reauthenticationUrl(issuer, returnTo)}">Sign in again</a></p>`,
    ),
    { status: 403 },
  );
  return false;
}
