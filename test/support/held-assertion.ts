/**
 * Passkey sign-ins whose assertion the test sends itself: the browser's authenticator makes a
 * valid assertion for a fresh sign-in, its form post is intercepted (the challenge left unspent)
 * and the test posts it at a moment of its choosing, as the browser would have, or altered.
 * Server-side checks are tested this way without the refusal page's autofill answering again.
 * `address`, where given, is sent as X-Forwarded-For (it counts only with TRUST_PROXY=true).
 */
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { REDIRECT_URI } from './fixtures.js';
import type { VirtualAuthenticator } from './virtual-authenticator.js';

export interface Held {
  readonly uid: string;
  readonly body: string;
}

export interface SentAssertion {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly text: string;
}

export interface AssertionHolder {
  /** A valid assertion for a fresh sign-in from `address`, made by the authenticator and not yet sent. */
  hold(address?: string): Promise<Held>;
  /** A new sign-in from `address`, without a ceremony: its interaction id. */
  open(address?: string): Promise<string>;
  send(uid: string, body: string, address?: string): Promise<SentAssertion>;
  headers(address?: string): Record<string, string>;
}

/** A fresh sign-in for `client` (prompt=login), so every one shows the login page. */
export async function promptLoginUrl(client: oidc.Configuration, state: string): Promise<string> {
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state,
    prompt: 'login',
  });
  return url.href;
}

const PASSKEY_POST = /\/interaction\/[^/]+\/passkey$/;

/** `authorizationUrl` starts a sign-in (prompt=login) whose login page asks the authenticator. */
export function assertionHolder(page: Page, authenticator: VirtualAuthenticator, issuer: string, authorizationUrl: () => Promise<string>): AssertionHolder {
  const headers = (address?: string): Record<string, string> => ({
    'content-type': 'application/x-www-form-urlencoded',
    origin: issuer,
    ...(address ? { 'x-forwarded-for': address } : {}),
  });
  return {
    headers,
    async hold(address) {
      if (address) await page.context().setExtraHTTPHeaders({ 'x-forwarded-for': address });
      await page.goto('about:blank');
      const held = new Promise<Held>((resolve) => {
        void page.route(PASSKEY_POST, async (route) => {
          resolve({ uid: new URL(route.request().url()).pathname.split('/')[2] ?? '', body: route.request().postData() ?? '' });
          await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>held</p>' });
        });
      });
      // The touched authenticator answers the login page's autofill request by itself.
      await authenticator.touch(true);
      await page.goto(await authorizationUrl(), { waitUntil: 'commit' });
      const assertion = await held;
      await authenticator.touch(false);
      await page.unroute(PASSKEY_POST);
      return assertion;
    },
    async open(address) {
      const login = await page.request.get(await authorizationUrl(), { headers: address ? { 'x-forwarded-for': address } : {} });
      return new URL(login.url()).pathname.split('/')[2] ?? '';
    },
    async send(uid, body, address) {
      const answer = await page.request.post(`${issuer}/interaction/${uid}/passkey`, { headers: headers(address), data: body, maxRedirects: 0 });
      return { status: answer.status(), retryAfter: answer.headers()['retry-after'], text: await answer.text() };
    },
  };
}
