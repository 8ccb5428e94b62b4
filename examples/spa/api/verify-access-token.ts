/**
 * How a resource server accepts a Gatehouse JWT access token (RFC 9068), in one place to copy.
 * Enforces: the signature against the issuer's JWKS with pinned algorithms (so `alg: none` and
 * HS256 keyed with the public key never verify), `typ: at+jwt`, issuer, audience, expiry and the
 * RFC 9068 claims, the required scopes, and the sender constraint the token carries: a
 * certificate-bound token (`cnf.x5t#S256`, RFC 8705) only over TLS with that client certificate,
 * a DPoP-bound token (`cnf.jkt`, RFC 9449 §7) only with the `DPoP` scheme and a fresh proof for
 * this request, signed by that key. Failures answer 401/403 with an RFC 6750 / RFC 9449
 * `WWW-Authenticate` challenge; nothing about the token is echoed back.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';

export interface AccessTokenPolicy {
  readonly issuer: string;
  /** The API's identifier as registered in Gatehouse (the token's `aud`). */
  readonly audience: string;
  /** Usually `createRemoteJWKSet(new URL(jwks_uri))`. */
  readonly keys: JWTVerifyGetKey;
  /** The API's `signing_alg` in Gatehouse (ES256 unless configured otherwise). */
  readonly algorithms: readonly string[];
  readonly requiredScopes?: readonly string[];
  readonly realm?: string;
  /** DPoP proof algorithms accepted (Gatehouse offers ES256, EdDSA/Ed25519, PS256). */
  readonly dpopAlgorithms?: readonly string[];
  /** How old a DPoP proof may be (s), and how far clocks may disagree (s). */
  readonly dpopMaxAge?: number;
  readonly clockTolerance?: number;
  /** Remembers DPoP proof ids so a captured proof cannot be replayed. */
  readonly replay?: ProofReplayCache;
}

/** What the request presented: the headers, the URL the client addressed, the TLS client certificate. */
export interface PresentedRequest {
  readonly method: string;
  /** The absolute URL as the client addressed it (scheme and host as seen by the client). */
  readonly url: string;
  readonly authorization?: string | undefined;
  readonly dpop?: string | readonly string[] | undefined;
  /** DER bytes of the client certificate of this TLS connection, if any. */
  readonly clientCertificate?: Uint8Array | undefined;
}

export interface AccessTokenClaims extends JWTPayload {
  readonly sub: string;
  readonly client_id: string;
  readonly scope?: string;
  readonly cnf?: { readonly jkt?: string; readonly 'x5t#S256'?: string };
}

export type Verdict =
  | { readonly ok: true; readonly claims: AccessTokenClaims; readonly scheme: 'Bearer' | 'DPoP' }
  | { readonly ok: false; readonly status: 400 | 401 | 403; readonly error: string; readonly wwwAuthenticate: string };

const DEFAULT_DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519', 'PS256'];

/** Proof ids seen within the acceptance window (one process; share it across replicas in production). */
export class ProofReplayCache {
  readonly #seen = new Map<string, number>();

  /** True the first time `jti` is seen before `expiresAt` (epoch s). */
  firstUse(jti: string, expiresAt: number, now = Math.floor(Date.now() / 1000)): boolean {
    if (this.#seen.size > 10_000) for (const [id, until] of this.#seen) if (until < now) this.#seen.delete(id);
    const until = this.#seen.get(jti);
    if (until !== undefined && until >= now) return false;
    this.#seen.set(jti, expiresAt);
    return true;
  }
}

/** RFC 8705 §3.1: base64url SHA-256 of the DER certificate. */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

class Refusal extends Error {
  constructor(
    readonly status: 400 | 401 | 403,
    readonly error: string,
    readonly description: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(description);
  }
}

function challenge(scheme: 'Bearer' | 'DPoP', policy: AccessTokenPolicy, params: Record<string, string>): string {
  const all: Record<string, string> = { realm: policy.realm ?? policy.audience, ...params };
  if (scheme === 'DPoP') all['algs'] = (policy.dpopAlgorithms ?? DEFAULT_DPOP_ALGORITHMS).join(' ');
  // Values are our own constant texts; quotes and backslashes never occur in them.
  return `${scheme} ${Object.entries(all)
    .map(([key, value]) => `${key}="${value}"`)
    .join(', ')}`;
}

function credentialsOf(authorization: string | undefined): { scheme: 'Bearer' | 'DPoP'; token: string } | undefined {
  const match = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization ?? '');
  if (!match?.[1] || !match[2]) return undefined;
  return { scheme: match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2] };
}

async function verifyToken(token: string, policy: AccessTokenPolicy): Promise<AccessTokenClaims> {
  try {
    const { payload } = await jwtVerify(token, policy.keys, {
      issuer: policy.issuer,
      audience: policy.audience,
      algorithms: [...policy.algorithms],
      typ: 'at+jwt',
      requiredClaims: ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'],
      clockTolerance: policy.clockTolerance ?? 5,
    });
    return payload as AccessTokenClaims;
  } catch (error) {
    const code = (error as { code?: string }).code;
    // Trouble fetching or reading the issuer's key set says nothing about the token: not a 401.
    if (!code?.startsWith('ERR_J') || code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JWKS_INVALID') throw error;
    const description =
      code === 'ERR_JWT_EXPIRED'
        ? 'the access token expired'
        : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED'
          ? 'the access token is not meant for this API'
          : 'the access token is not valid';
    throw new Refusal(401, 'invalid_token', description);
  }
}

async function verifyDpopProof(request: PresentedRequest, token: string, jkt: string, policy: AccessTokenPolicy): Promise<void> {
  const proofs = typeof request.dpop === 'string' ? [request.dpop] : (request.dpop ?? []);
  const bad = (description: string) => new Refusal(401, 'invalid_dpop_proof', description);
  if (proofs.length !== 1 || !proofs[0]) throw bad('exactly one DPoP proof is required');
  let payload: JWTPayload;
  let jwk: JWK | undefined;
  try {
    const verified = await jwtVerify(proofs[0], EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...(policy.dpopAlgorithms ?? DEFAULT_DPOP_ALGORITHMS)] });
    payload = verified.payload;
    jwk = verified.protectedHeader.jwk;
  } catch {
    throw bad('the DPoP proof is not valid');
  }
  const now = Math.floor(Date.now() / 1000);
  const skew = policy.clockTolerance ?? 5;
  const maxAge = policy.dpopMaxAge ?? 60;
  const target = new URL(request.url);
  const htu = typeof payload['htu'] === 'string' ? URL.parse(payload['htu']) : null;
  if (typeof payload.jti !== 'string' || !payload.jti) throw bad('the DPoP proof has no jti');
  if (payload['htm'] !== request.method) throw bad('the DPoP proof is for another method');
  if (!htu || htu.origin !== target.origin || htu.pathname !== target.pathname) throw bad('the DPoP proof is for another URL');
  if (typeof payload.iat !== 'number' || payload.iat > now + skew || payload.iat < now - maxAge - skew) throw bad('the DPoP proof is too old or from the future');
  if (payload['ath'] !== createHash('sha256').update(token, 'ascii').digest('base64url')) throw bad('the DPoP proof is for another access token');
  if (!jwk || (await calculateJwkThumbprint(jwk, 'sha256')) !== jkt) throw bad('the DPoP proof is signed by another key than the token is bound to');
  if (policy.replay && !policy.replay.firstUse(`${jkt}:${payload.jti}`, payload.iat + maxAge + skew, now)) throw bad('the DPoP proof was already used');
}

function checkSenderConstraint(claims: AccessTokenClaims, scheme: 'Bearer' | 'DPoP', request: PresentedRequest): void {
  const cnf = claims.cnf;
  if (cnf !== undefined && (typeof cnf !== 'object' || cnf === null)) throw new Refusal(401, 'invalid_token', 'the access token has an unreadable confirmation');
  const certificate = cnf?.['x5t#S256'];
  if (certificate !== undefined) {
    if (!request.clientCertificate) throw new Refusal(401, 'invalid_token', 'the access token is bound to a client certificate, and none was presented');
    if (certificateThumbprint(request.clientCertificate) !== certificate) {
      throw new Refusal(401, 'invalid_token', 'the access token is bound to another client certificate');
    }
  }
  if (cnf && cnf.jkt === undefined && certificate === undefined) {
    // A binding this server cannot check is a binding it cannot honour: refuse rather than ignore.
    throw new Refusal(401, 'invalid_token', 'the access token is bound in a way this API does not support');
  }
  if (cnf?.jkt !== undefined && scheme !== 'DPoP') throw new Refusal(401, 'invalid_token', 'a DPoP-bound access token must be sent with the DPoP scheme');
  if (cnf?.jkt === undefined && scheme === 'DPoP') throw new Refusal(401, 'invalid_token', 'the access token is not DPoP-bound');
}

export async function verifyAccessToken(request: PresentedRequest, policy: AccessTokenPolicy): Promise<Verdict> {
  const credentials = credentialsOf(request.authorization);
  if (!credentials) {
    const malformed = Boolean(request.authorization);
    const params: Record<string, string> = malformed ? { error: 'invalid_request', error_description: 'send the access token as Bearer or DPoP' } : {};
    return {
      ok: false,
      status: malformed ? 400 : 401,
      error: malformed ? 'invalid_request' : 'missing_token',
      wwwAuthenticate: `${challenge('Bearer', policy, params)}, ${challenge('DPoP', policy, params)}`,
    };
  }
  const { scheme, token } = credentials;
  try {
    const claims = await verifyToken(token, policy);
    checkSenderConstraint(claims, scheme, request);
    if (claims.cnf?.jkt !== undefined) await verifyDpopProof(request, token, claims.cnf.jkt, policy);
    const granted = new Set(typeof claims.scope === 'string' ? claims.scope.split(' ') : []);
    const missing = (policy.requiredScopes ?? []).filter((scope) => !granted.has(scope));
    if (missing.length) {
      throw new Refusal(403, 'insufficient_scope', 'the access token lacks a required scope', { scope: (policy.requiredScopes ?? []).join(' ') });
    }
    return { ok: true, claims, scheme };
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return {
      ok: false,
      status: error.status,
      error: error.error,
      wwwAuthenticate: challenge(scheme, policy, { error: error.error, error_description: error.description, ...error.extra }),
    };
  }
}
