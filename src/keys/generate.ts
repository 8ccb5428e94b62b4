/** Key material generation: asymmetric signing keys only (JWT-3), random cookie secrets. */
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

export const TOKEN_SIGNING_ALGS = ['ES256', 'RS256'] as const;
export type TokenSigningAlg = (typeof TOKEN_SIGNING_ALGS)[number];
export const COOKIE_KEY_ALG = 'HS256';

export interface GeneratedSigningKey {
  readonly kid: string;
  readonly alg: TokenSigningAlg;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

export function publicMembers(jwk: JWK): JWK {
  return Object.fromEntries(Object.entries(jwk).filter(([name]) => !PRIVATE_MEMBERS.has(name))) as JWK;
}

export async function generateSigningKey(alg: TokenSigningAlg): Promise<GeneratedSigningKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const exported = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(exported, 'sha256');
  const privateJwk: JWK = { ...exported, kid, alg, use: 'sig' };
  return { kid, alg, privateJwk, publicJwk: publicMembers(privateJwk) };
}

export function generateCookieSecret(): { kid: string; secret: string } {
  return { kid: `cookie-${randomBytes(8).toString('hex')}`, secret: randomBytes(32).toString('base64url') };
}
