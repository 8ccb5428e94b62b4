/**
 * An operator's password reset (CLI `users set-password`, admin API). Enforces SESS-10's intent
 * for resets: by default every session of the account ends and every grant it holds is revoked
 * (refresh tokens included), so whoever knew the old password keeps no foothold. An operator
 * who only rotates a password on the user's behalf may keep them, explicitly.
 */
import type { SessionStore } from '../sessions/store.js';
import type { Account, AccountStore } from './store.js';

export interface PasswordReset {
  readonly account: Account;
  /** False when the operator asked to keep sessions and refresh tokens. */
  readonly sessionsEnded: boolean;
  readonly endedSessions: number;
  readonly revokedGrants: number;
}

export async function resetPassword(
  deps: { readonly accounts: AccountStore; readonly sessions: SessionStore },
  username: string,
  password: string,
  options: { readonly keepSessions?: boolean } = {},
): Promise<PasswordReset> {
  const account = await deps.accounts.setPassword(username, password);
  if (options.keepSessions) return { account, sessionsEnded: false, endedSessions: 0, revokedGrants: 0 };
  const { sessions, grants } = await deps.sessions.endAllAndRevokeGrants(account.id);
  return { account, sessionsEnded: true, endedSessions: sessions, revokedGrants: grants };
}

/** The sentence both front ends print. */
export function describeReset(reset: PasswordReset): string {
  const done = `password changed for ${reset.account.username}`;
  if (!reset.sessionsEnded) return `${done}; sessions and refresh tokens kept (as asked)`;
  return `${done}; ended ${reset.endedSessions} session${reset.endedSessions === 1 ? '' : 's'} and revoked ${reset.revokedGrants} grant${reset.revokedGrants === 1 ? '' : 's'} with their refresh tokens`;
}
