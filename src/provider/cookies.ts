/**
 * Cookie policy (SESS-7): every cookie HttpOnly and SameSite=Lax (Strict would drop the session
 * on the top-level redirect back from a relying party); Secure whenever the issuer is https;
 * the session cookie on Path=/ (the authorization, logout and account endpoints all need it)
 * and then with the __Host- prefix, which also forbids a Domain attribute; interaction cookies
 * keep the engine's per-interaction paths and get the __Secure- prefix.
 */
import type { Configuration } from 'oidc-provider';
import type { Config } from '../config/index.js';

export function cookieSettings(config: Config, keys: string[]): NonNullable<Configuration['cookies']> {
  const secure = config.issuer.startsWith('https://');
  return {
    keys,
    names: secure
      ? { session: '__Host-gatehouse.session', interaction: '__Secure-gatehouse.interaction', resume: '__Secure-gatehouse.resume' }
      : { session: 'gatehouse.session', interaction: 'gatehouse.interaction', resume: 'gatehouse.resume' },
    long: { httpOnly: true, sameSite: 'lax', secure, path: '/' },
    short: { httpOnly: true, sameSite: 'lax', secure },
  };
}

/**
 * SESS-3: the engine re-saves a session on every request that uses it with this TTL, so the
 * row expires after `sessionIdle` seconds without use — but never later than `sessionMaxAge`
 * after sign-in, however busy the session is.
 */
export function sessionTtl(config: Config) {
  return (session: { loginTs?: number | undefined }): number => {
    const now = Math.floor(Date.now() / 1000);
    const signedInAt = session.loginTs ?? now;
    const remaining = signedInAt + config.ttl.sessionMaxAge - now;
    return Math.max(1, Math.min(config.ttl.sessionIdle, remaining));
  };
}
