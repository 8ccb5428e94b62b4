/**
 * Keeps the access token in this closure and nowhere else: not in localStorage, sessionStorage,
 * IndexedDB or a cookie, where any script injected into the page could read it later. The
 * refresh token never reaches the page: it stays in the BFF's HttpOnly cookie. A reload loses
 * the access token; the page asks the BFF for a fresh one (silent refresh), and asks again
 * shortly before each one expires.
 */

/** Seconds before expiry to refresh: a quarter of the lifetime, between 5 s and 60 s. */
const refreshLead = (lifetime) => Math.min(60, Math.max(5, lifetime / 4));

export function createTokenKeeper({ onSignedIn, onSignedOut }) {
  let token = null;
  let expiresAt = 0;
  let timer;
  let running = null;

  function forget() {
    token = null;
    expiresAt = 0;
    clearTimeout(timer);
  }

  async function askBff() {
    const response = await fetch('/bff/session', { method: 'POST', headers: { 'X-BFF': '1' }, credentials: 'same-origin', cache: 'no-store' });
    if (response.status === 401) {
      forget();
      onSignedOut();
      return null;
    }
    if (!response.ok) throw new Error(`the BFF answered ${response.status}`);
    const body = await response.json();
    token = body.access_token;
    expiresAt = Date.now() + body.expires_in * 1000;
    clearTimeout(timer);
    timer = setTimeout(() => refresh().catch(() => undefined), (body.expires_in - refreshLead(body.expires_in)) * 1000);
    onSignedIn(body.user);
    return token;
  }

  /** One refresh at a time in this tab; the BFF serializes across tabs. */
  function refresh() {
    running ??= askBff().finally(() => {
      running = null;
    });
    return running;
  }

  /** A token with a few seconds left at least, refreshed first if needed (e.g. a throttled background tab). */
  async function accessToken() {
    if (token && Date.now() < expiresAt - 5000) return token;
    return refresh();
  }

  /** Revokes the refresh token at the BFF; returns Gatehouse's logout URL to end its session too. */
  async function signOut() {
    forget();
    const response = await fetch('/bff/session', { method: 'DELETE', headers: { 'X-BFF': '1' }, credentials: 'same-origin' });
    if (!response.ok) throw new Error(`the BFF answered ${response.status}`);
    const body = await response.json();
    return body.logout_url;
  }

  return { refresh, accessToken, signOut };
}
