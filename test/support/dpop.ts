/**
 * DPoP proofs made by hand (RFC 9449), for the cases a well-behaved client library never
 * produces: a replayed proof, a proof signed by another key, `alg: none`, HMAC.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export interface DpopKey {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly thumbprint: string;
  readonly alg: string;
}

export async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicKey, publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk), alg };
}

export interface ProofClaims {
  readonly htm: string;
  readonly htu: string;
  readonly nonce?: string;
  readonly accessToken?: string;
  readonly jti?: string;
  readonly iat?: number;
}

function claimsOf(claims: ProofClaims): Record<string, unknown> {
  return {
    htm: claims.htm,
    htu: claims.htu,
    jti: claims.jti ?? randomUUID(),
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
    ...(claims.nonce ? { nonce: claims.nonce } : {}),
    ...(claims.accessToken ? { ath: createHash('sha256').update(claims.accessToken).digest('base64url') } : {}),
  };
}

/** A proof signed by `signer`, naming `named`'s public key in its header (the same key unless told). */
export async function proof(signer: DpopKey, claims: ProofClaims, named: DpopKey = signer): Promise<string> {
  return new SignJWT(claimsOf(claims))
    .setProtectedHeader({ alg: signer.alg, typ: 'dpop+jwt', jwk: named.publicJwk })
    .sign(signer.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsigned proof (`alg: none`) naming `key`. */
export function unsignedProof(key: DpopKey, claims: ProofClaims): string {
  return `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })}.${b64(claimsOf(claims))}.`;
}

/** An HS256 proof keyed with the public key's own JSON: the classic key-confusion forgery. */
export function hmacProof(key: DpopKey, claims: ProofClaims): string {
  const signingInput = `${b64({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.publicJwk })}.${b64(claimsOf(claims))}`;
  const signature = createHmac('sha256', JSON.stringify(key.publicJwk)).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}
