/**
 * Introspection and revocation of Gatehouse's own JWT access tokens (JWT-1, FLOW-5). The engine
 * refuses structured tokens at both endpoints, so the edge swaps a JWT for a handle before the
 * engine sees the request (see `substituteStructuredToken`); when the engine looks the handle up,
 * this module verifies the JWT — signature with pinned algorithms against our own keys, issuer,
 * `typ: at+jwt`, expiry — and answers with the record the engine would have stored for an opaque
 * token. The engine then does everything else as usual: client authentication, policies, the
 * grant check, the response. A JWT for a user carries a grant: its issuance is recorded under
 * that grant so revoking the grant (logout, reuse detection, session end) deactivates it too.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import Provider from 'oidc-provider';
import type { OidcRecords, Payload } from '../adapter/records.js';

/** What the edge shows the engine instead of a JWT (and the adapter recognises). */
export const HANDLE_PREFIX = 'jwt~';
const STRUCTURED = Symbol('gatehouse.structuredToken');
const ISSUED_MODEL = 'IssuedJwtAccessToken';
const REVOKED_MODEL = 'RevokedJwtAccessToken';

export interface Substitution {
  readonly handle: string;
  readonly jwt: string;
}

export function looksLikeJwt(token: unknown): token is string {
  if (typeof token !== 'string' || token.split('.').length !== 3) return false;
  try {
    return Boolean(decodeProtectedHeader(token));
  } catch {
    return false;
  }
}

/** The handle to show the engine instead of `token`, if it is a JWT. */
export function substitutionFor(token: unknown): Substitution | undefined {
  if (!looksLikeJwt(token)) return undefined;
  return { handle: `${HANDLE_PREFIX}${createHash('sha256').update(token).digest('base64url')}`, jwt: token };
}

/** Remembers the substitution on the request object the engine will read (and so see in its context). */
export function attachSubstitution(request: IncomingMessage, substitution: Substitution): void {
  (request as unknown as Record<symbol, Substitution>)[STRUCTURED] = substitution;
}

function currentSubstitution(): Substitution | undefined {
  // oidc-provider's static `ctx` (async local storage) is not in its type definitions.
  const ctx = (Provider as unknown as { ctx?: { req?: Record<symbol, Substitution | undefined> } }).ctx;
  return ctx?.req?.[STRUCTURED];
}

function certificateBinding(claims: Record<string, unknown>): { 'x5t#S256'?: string } {
  const thumbprint = (claims['cnf'] as Record<string, unknown> | undefined)?.['x5t#S256'];
  return typeof thumbprint === 'string' ? { 'x5t#S256': thumbprint } : {};
}

export class StructuredTokens {
  constructor(
    private readonly issuer: string,
    private readonly publicKeys: () => readonly JWK[],
    private readonly records: OidcRecords,
  ) {}

  /** Called at issuance for user access tokens in JWT format: ties the JWT to its grant. */
  async recordIssued(jti: string, grantId: string, expiresIn: number): Promise<void> {
    await this.records.upsert(ISSUED_MODEL, jti, { grantId }, expiresIn);
  }

  /** The engine's view of a substituted JWT for `model`, or undefined (not ours, forged, expired, revoked). */
  async find(model: string, handle: string): Promise<Payload | undefined> {
    const substitution = currentSubstitution();
    if (!substitution || substitution.handle !== handle) return undefined;
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(substitution.jwt, createLocalJWKSet({ keys: [...this.publicKeys()] }), {
        issuer: this.issuer,
        typ: 'at+jwt',
        algorithms: ['ES256', 'RS256'],
        requiredClaims: ['jti', 'exp', 'iat', 'client_id'],
      }));
    } catch {
      return undefined;
    }
    const jti = String(claims['jti']);
    const clientId = String(claims['client_id']);
    const isServiceToken = claims['sub'] === clientId;
    if ((model === 'ClientCredentials') !== isServiceToken) return undefined;
    if (await this.isRevoked(jti)) return undefined;
    let grantId: string | undefined;
    if (!isServiceToken) {
      const issued = await this.records.find(ISSUED_MODEL, jti);
      if (!issued || typeof issued['grantId'] !== 'string') return undefined;
      grantId = issued['grantId'];
    }
    return {
      jti,
      kind: model,
      clientId,
      iat: claims['iat'],
      exp: claims['exp'],
      scope: claims['scope'],
      aud: claims['aud'],
      // RFC 8705: a certificate-bound JWT stays bound at introspection (cnf.x5t#S256).
      ...certificateBinding(claims),
      ...(isServiceToken ? {} : { accountId: claims['sub'], grantId }),
    };
  }

  async isRevoked(jti: string): Promise<boolean> {
    return Boolean(await this.records.find(REVOKED_MODEL, jti));
  }

  /** Revocation of a substituted JWT: remembered until the token would have expired anyway. */
  async destroy(jti: string): Promise<boolean> {
    const substitution = currentSubstitution();
    if (!substitution) return false;
    const payload = await this.find('AccessToken', substitution.handle) ?? await this.find('ClientCredentials', substitution.handle);
    if (!payload || payload['jti'] !== jti) return false;
    const expiresIn = Math.max(1, Number(payload['exp']) - Math.floor(Date.now() / 1000));
    await this.records.upsert(REVOKED_MODEL, jti, {}, expiresIn);
    return true;
  }
}

