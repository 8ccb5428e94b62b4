/**
 * An account's sign-in factors as operators see and manage them (admin API and CLI, OPS-3).
 * Enforces: a listing names factors and their dates, never a secret, code or key; a reset
 * removes every second factor and passkey and ends every session (and so revokes the grants
 * issued in them), so whoever held a lost device is signed out too.
 */
import type { SessionStore } from '../sessions/store.js';
import type { PasskeyStore } from './passkeys.js';
import type { SecondFactorStore } from './store.js';

export interface FactorStores {
  readonly factors: SecondFactorStore;
  readonly passkeys: PasskeyStore;
  readonly sessions: SessionStore;
}

export interface AccountFactors {
  readonly mfaRequired: boolean;
  readonly totp: { readonly enrolledAt: Date; readonly lastUsedAt: Date | null } | null;
  readonly recoveryCodesLeft: number;
  readonly passkeys: readonly { readonly id: string; readonly name: string; readonly deviceType: string; readonly backedUp: boolean; readonly createdAt: Date; readonly lastUsedAt: Date | null }[];
}

export async function describeFactors(stores: FactorStores, accountId: string): Promise<AccountFactors> {
  const [status, passkeys, mfaRequired] = await Promise.all([
    stores.factors.status(accountId),
    stores.passkeys.list(accountId),
    stores.factors.isRequired(accountId),
  ]);
  return {
    mfaRequired,
    totp: status.totp ? { enrolledAt: status.totp.enrolledAt, lastUsedAt: status.totp.lastUsedAt ?? null } : null,
    recoveryCodesLeft: status.recoveryCodesLeft,
    passkeys: passkeys.map((passkey) => ({
      id: passkey.id,
      name: passkey.name,
      deviceType: passkey.deviceType,
      backedUp: passkey.backedUp,
      createdAt: passkey.createdAt,
      lastUsedAt: passkey.lastUsedAt ?? null,
    })),
  };
}

export async function resetFactors(stores: FactorStores, accountId: string): Promise<{ totp: boolean; passkeys: number; sessionsEnded: number }> {
  const totp = await stores.factors.removeTotp(accountId);
  const passkeys = await stores.passkeys.removeAll(accountId);
  const sessionsEnded = await stores.sessions.endOthers(accountId, undefined);
  return { totp, passkeys, sessionsEnded };
}
