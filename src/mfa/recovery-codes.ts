/**
 * Recovery codes (MFA-2): ten one-time codes of 50 random bits each, shown once. Only a keyed
 * hash (HMAC under the master secret, bound to the account) is stored: the codes are random, so
 * a slow password hash would add nothing, and a database dump alone cannot be used to test them.
 */
import { randomInt } from 'node:crypto';
import type { MasterSecret } from '../security/master-secret.js';

export const RECOVERY_CODE_COUNT = 10;
// Crockford-style alphabet without look-alikes (no I, L, O, U).
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function newCode(): string {
  let code = '';
  for (let i = 0; i < 10; i += 1) code += ALPHABET[randomInt(ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
}

/** What the user typed, in the stored form: case, spaces and dashes do not matter. */
export function normalizeRecoveryCode(input: string): string | undefined {
  const compact = input.toUpperCase().replace(/[\s-]+/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (compact.length !== 10 || [...compact].some((char) => !ALPHABET.includes(char))) return undefined;
  return `${compact.slice(0, 5)}-${compact.slice(5)}`;
}

export function hashRecoveryCode(secret: MasterSecret, accountId: string, code: string): string {
  return secret.mac('recovery-code', `${accountId}\u0000${code}`);
}
