/**
 * Password hashing with argon2id (OWASP parameters: 19 MiB, 2 iterations, 1 lane). Enforces:
 * checking an unknown user costs the same as checking a wrong password.
 */
import { hash, verify } from '@node-rs/argon2';

// @node-rs/argon2 exports Algorithm as an ambient const enum; 2 is Algorithm.Argon2id.
const ARGON2ID = 2;

export const ARGON2_PARAMETERS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_PARAMETERS);
}

let decoy: Promise<string> | undefined;
let decoyBuilt = false;

/**
 * Builds the hash an unknown user's password is checked against. Called at server start: built
 * lazily, the first unknown-user sign-in of a process would take twice as long (a timing signal).
 */
export function prepareDecoyHash(): Promise<string> {
  decoy ??= hashPassword('gatehouse-decoy-password-for-timing').then((built) => {
    decoyBuilt = true;
    return built;
  });
  return decoy;
}

/** Whether the decoy hash is ready (so no sign-in pays for building it). */
export function decoyHashReady(): boolean {
  return decoyBuilt;
}

/** Verifies `password` against `stored`; with no stored hash it burns the same time and fails. */
export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  if (!stored) {
    await verify(await prepareDecoyHash(), password).catch(() => false);
    return false;
  }
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
