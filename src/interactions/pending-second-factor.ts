/**
 * What the first sign-in step proved, kept in the database until the second factor is given
 * (MFA-2), and the login result the second factor then makes (RFC 8176). Enforces: the state is
 * bound to the interaction and lives ten minutes; the amr lists the methods this sign-in proved
 * (the password's `pwd` only when this interaction checked it) plus the second factor's; acr is
 * `urn:gatehouse:acr:mfa`; a step-up inside a live session keeps the session's sign-in time.
 */
import { ACR_MFA } from '../accounts/authentication-context.js';

export interface PendingSecondFactor {
  readonly amr: readonly string[];
  readonly stepUp?: boolean;
  /** A step-up keeps the session's sign-in time: a second factor alone is not a fresh sign-in (SESS-10). */
  readonly loginTs?: number;
  /** The user has no second factor and this sign-in requires one: set one up first (MFA-3). */
  readonly enrol?: boolean;
  /** The user has passkeys but no authenticator app, and this sign-in requires more than a password. */
  readonly passkeyInstead?: boolean;
}

/** The interaction state's purpose (mfa/interaction-states.ts). */
export const PENDING_SECOND_FACTOR = 'second-factor';
// Long enough to find the phone; the interaction itself may live longer.
export const PENDING_TTL_SECONDS = 10 * 60;

/** RFC 8176 methods of the second factors: a one-time code, or a passkey with user verification. */
export const CODE_METHODS = ['otp'] as const;
export const PASSKEY_METHODS = ['swk', 'user'] as const;

export function secondFactorLogin(accountId: string, pending: PendingSecondFactor, methods: readonly string[]): { accountId: string; acr: string; amr: string[]; ts?: number } {
  const amr = [...new Set([...pending.amr, ...methods])];
  return { accountId, acr: ACR_MFA, amr, ...(pending.stepUp && pending.loginTs ? { ts: pending.loginTs } : {}) };
}
