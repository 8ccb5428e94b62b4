/**
 * A WebAuthn assertion answered to one of our challenges (MFA-1), checked the same way whether it
 * signs a user in or is their second step. Enforces: the form field is a bounded assertion
 * (API-3); the credential must be registered, its account enabled and, where the step already
 * knows the user, that user's own; a user handle, when given, must name the credential's account
 * (it is not signed: WebAuthn §7.2 step 6); the library checks origin, RP ID, challenge,
 * signature, user verification and counter; a credential cannot change from device-bound to
 * synced; the stored counter and backup state move forward only from the values the check
 * started from.
 */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import type { Account, AccountStore } from '../accounts/store.js';
import type { Passkey, PasskeyStore } from '../mfa/passkeys.js';
import type { RelyingParty } from '../mfa/webauthn.js';
import { ValidationError, describeIssues } from '../validation.js';

// API-3: the one field a passkey form sends, holding the browser's assertion as JSON.
const passkeyForm = z.strictObject({ response: z.string().min(2).max(16_000) });
const assertion = z.object({
  id: z.string().min(1).max(1400),
  rawId: z.string().min(1).max(1400),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: z.string().max(4000),
    authenticatorData: z.string().max(4000),
    // Up to an ML-DSA-44 signature (2,420 bytes), which the library accepts where Node supports it.
    signature: z.string().max(8000),
    userHandle: z.string().max(200).optional(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});

/** The assertion a passkey form carries; a 400 for anything else. */
export function assertionFromForm(body: unknown): AuthenticationResponseJSON {
  const parsed = passkeyForm.safeParse(body ?? {});
  if (!parsed.success) throw new ValidationError(describeIssues(parsed.error));
  try {
    const response = assertion.safeParse(JSON.parse(parsed.data.response));
    if (response.success) return response.data as AuthenticationResponseJSON;
  } catch {
    // Not JSON: the same answer as JSON that is not an assertion.
  }
  throw new ValidationError(['response: not a WebAuthn assertion']);
}

export interface PasskeyAssertionDependencies {
  readonly accounts: AccountStore;
  readonly passkeys: PasskeyStore;
  readonly relyingParty: RelyingParty;
}

export type AssertionOutcome =
  | { readonly ok: true; readonly account: Account; readonly passkey: Passkey; readonly backedUp: boolean }
  | { readonly ok: false; readonly reason: string; readonly accountId?: string | undefined };

/** The credential an assertion names and its account, looked up but not yet checked. */
export interface Claimed {
  readonly passkey: Passkey | undefined;
  readonly account: Account | undefined;
}

export async function claimedBy(deps: PasskeyAssertionDependencies, response: AuthenticationResponseJSON): Promise<Claimed> {
  const passkey = await deps.passkeys.find(response.id);
  const account = passkey ? await deps.accounts.findById(passkey.accountId) : undefined;
  return { passkey, account };
}

/**
 * Verifies `response` against `challenge` and records the use. `accountId`, when the step knows
 * the user already, is the only account whose credentials count.
 */
export async function verifyAssertion(
  deps: PasskeyAssertionDependencies,
  response: AuthenticationResponseJSON,
  claimed: Claimed,
  challenge: string,
  accountId?: string,
): Promise<AssertionOutcome> {
  const { passkey, account } = claimed;
  if (!passkey) return { ok: false, reason: 'unknown_credential' };
  if (accountId !== undefined && passkey.accountId !== accountId) return { ok: false, reason: 'other_account_credential', accountId };
  if (!account || account.disabled) return { ok: false, reason: 'account_unavailable', accountId: passkey.accountId };
  const userHandle = response.response.userHandle;
  if (userHandle !== undefined && Buffer.from(userHandle, 'base64url').toString('utf8') !== passkey.accountId) return { ok: false, reason: 'user_handle_mismatch', accountId: account.id };
  const verified = await deps.relyingParty.verifyAuthentication(passkey, response, challenge);
  if (!verified) return { ok: false, reason: 'not_verified', accountId: account.id };
  if (verified.deviceType !== passkey.deviceType) return { ok: false, reason: 'device_type_changed', accountId: account.id };
  if (!(await deps.passkeys.recordUse(passkey, verified.newCounter, verified.backedUp))) return { ok: false, reason: 'counter_raced', accountId: account.id };
  return { ok: true, account, passkey, backedUp: verified.backedUp };
}

/**
 * The name the login throttle counts an assertion under (API-2): the account's username when the
 * credential is registered, so passkey, password and code failures share one count per account;
 * otherwise the credential id, so made-up credentials add up only in the address's count and
 * cannot slow down anybody else.
 */
export function throttleName(response: AuthenticationResponseJSON, claimed: Claimed): string {
  return claimed.account?.username ?? `passkey:${response.id}`;
}
