/** `gatehouse users factors|reset-factors|require-mfa USERNAME`: a user's sign-in factors (MFA, OPS-3). */
import { describeFactors, resetFactors } from '../mfa/account-factors.js';
import type { Services } from '../services.js';
import { ValidationError } from '../validation.js';
import { UsageError, type Output } from './output.js';

export async function manageFactors(services: Services, verb: string, username: string | undefined, off: boolean, out: Output): Promise<void> {
  if (!username) throw new UsageError(`users ${verb} needs a USERNAME`);
  const account = await services.accounts.findByUsername(username);
  if (!account) throw new ValidationError([`no account "${username}"`]);
  if (verb === 'reset-factors') {
    const reset = await resetFactors(services, account.id);
    out.result(
      `removed ${reset.totp ? 'the authenticator app and recovery codes' : 'no authenticator app'} and ${reset.passkeys} passkey(s) of ${account.username}; ended ${reset.sessionsEnded} session(s)`,
      reset,
    );
    return;
  }
  if (verb === 'require-mfa') await services.factors.setRequired(account.id, !off);
  const factors = await describeFactors(services, account.id);
  const lines = [
    `${account.username}: multi-factor sign-in ${factors.mfaRequired ? 'required' : 'not required'}`,
    `authenticator app: ${factors.totp ? `since ${factors.totp.enrolledAt.toISOString()}` : 'none'}; recovery codes left: ${factors.recoveryCodesLeft}`,
    ...factors.passkeys.map((passkey) => `passkey "${passkey.name}" (${passkey.deviceType}${passkey.backedUp ? ', backed up' : ''}), added ${passkey.createdAt.toISOString()}`),
  ];
  out.result(lines.join('\n'), factors);
}
