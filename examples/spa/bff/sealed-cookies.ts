/**
 * The BFF's cookies: contents sealed (encrypted and authenticated, JWE `dir` + A256GCM under a key
 * derived from SPA_COOKIE_SECRET), `HttpOnly` (no script reads them), `Secure`, and each sent only
 * to the one route that needs it. The refresh cookie is `SameSite=Strict`; the short-lived login
 * cookie must come back on the redirect from Gatehouse (a cross-site navigation), so it is `Lax`.
 */
import { hkdfSync } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, type JWTPayload } from 'jose';

export interface CookieSpec {
  readonly name: string;
  readonly path: string;
  readonly sameSite: 'Strict' | 'Lax';
  readonly maxAge: number;
}

/** Holds the refresh token: only POST/DELETE /bff/session ever receive it. */
export const REFRESH_COOKIE: CookieSpec = { name: 'bff_refresh', path: '/bff/session', sameSite: 'Strict', maxAge: 7 * 24 * 3600 };
/** Holds state, nonce and PKCE verifier between /bff/login and /bff/callback. */
export const LOGIN_COOKIE: CookieSpec = { name: 'bff_login', path: '/bff/callback', sameSite: 'Lax', maxAge: 600 };

export class CookieSealer {
  readonly #key: Uint8Array;

  constructor(secret: string) {
    if (secret.length < 32) throw new Error('SPA_COOKIE_SECRET must be at least 32 characters');
    this.#key = new Uint8Array(hkdfSync('sha256', secret, 'gatehouse-example-spa', 'bff cookie encryption', 32));
  }

  seal(spec: CookieSpec, contents: JWTPayload): Promise<string> {
    return new EncryptJWT({ ...contents, cookie: spec.name })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setExpirationTime(`${spec.maxAge}s`)
      .encrypt(this.#key);
  }

  /** The contents, or undefined for anything forged, edited, expired or meant for another cookie. */
  async open<T>(spec: CookieSpec, value: string | undefined): Promise<T | undefined> {
    if (!value) return undefined;
    try {
      const { payload } = await jwtDecrypt(value, this.#key, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
      return payload['cookie'] === spec.name ? (payload as T) : undefined;
    } catch {
      return undefined;
    }
  }
}

export function setCookieHeader(spec: CookieSpec, value: string | undefined): string {
  const attributes = [`Path=${spec.path}`, 'HttpOnly', 'Secure', `SameSite=${spec.sameSite}`];
  return value === undefined
    ? `${spec.name}=; Max-Age=0; ${attributes.join('; ')}`
    : `${spec.name}=${value}; Max-Age=${spec.maxAge}; ${attributes.join('; ')}`;
}
