/**
 * SecondFactorStore: an account's authenticator app (TOTP) and recovery codes (MFA-2).
 * Enforces: the TOTP secret is stored only sealed under the master secret and bound to its
 * account; enrolment counts only once a first code is confirmed; a code is accepted only for a
 * time step later than the last accepted one, moved forward by one conditional UPDATE (two
 * replicas given the same code: exactly one accepts it); a recovery code is spent by one
 * conditional UPDATE, so it works once.
 */
import type { Knex } from 'knex';
import type { MasterSecret } from '../security/master-secret.js';
import { ValidationError } from '../validation.js';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes.js';
import { acceptedTimeStep, newTotpSecret } from './totp.js';

export interface SecondFactorStatus {
  /** The confirmed authenticator app, if any. */
  readonly totp: { readonly enrolledAt: Date; readonly lastUsedAt: Date | undefined } | undefined;
  readonly recoveryCodesLeft: number;
}

interface TotpRow {
  account_id: string;
  sealed_secret: string;
  last_used_step: string | number | null;
  created_at: Date;
  confirmed_at: Date | null;
  last_used_at: Date | null;
}

/** How long a new authenticator-app secret waits for its first code. */
export const PENDING_TOTP_SECONDS = 15 * 60;

const sealContext = (accountId: string) => `totp:${accountId}`;
// pg returns bigint columns as strings, PGlite as numbers.
const stepOf = (value: string | number | null): number | undefined => (value === null ? undefined : Number(value));

export class SecondFactorStore {
  constructor(
    private readonly knex: Knex,
    private readonly secret: MasterSecret,
  ) {}

  private async totpRow(accountId: string): Promise<TotpRow | undefined> {
    return (await this.knex<TotpRow>('totp_factors').where('account_id', accountId).first()) as TotpRow | undefined;
  }

  async status(accountId: string): Promise<SecondFactorStatus> {
    const row = await this.totpRow(accountId);
    const left = await this.knex('recovery_codes').where('account_id', accountId).whereNull('used_at').count<{ count: string | number }[]>({ count: '*' });
    return {
      totp: row?.confirmed_at ? { enrolledAt: new Date(row.confirmed_at), lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : undefined } : undefined,
      recoveryCodesLeft: Number(left[0]?.count ?? 0),
    };
  }

  async hasTotp(accountId: string): Promise<boolean> {
    const row = await this.knex('totp_factors').select('account_id').where('account_id', accountId).whereNotNull('confirmed_at').first();
    return Boolean(row);
  }

  /** A new secret waiting for its first code; replaces an unconfirmed one, never a confirmed one. */
  async startTotpEnrolment(accountId: string): Promise<string> {
    if (await this.hasTotp(accountId)) throw new ValidationError(['An authenticator app is already set up. Remove it first to set up another.']);
    const secret = newTotpSecret();
    await this.knex('totp_factors')
      .insert({ account_id: accountId, sealed_secret: this.secret.encrypt(secret, sealContext(accountId)), created_at: this.knex.fn.now() })
      .onConflict('account_id')
      .merge(['sealed_secret', 'created_at', 'last_used_step']);
    return secret;
  }

  /** The secret of an enrolment not yet confirmed (to show its QR code again), while it is fresh. */
  async pendingTotpSecret(accountId: string): Promise<string | undefined> {
    const row = await this.totpRow(accountId);
    if (!row || row.confirmed_at) return undefined;
    // A secret shown long ago may have been seen by someone else: it is confirmed soon or never.
    if (Date.now() - new Date(row.created_at).getTime() > PENDING_TOTP_SECONDS * 1000) return undefined;
    return this.secret.decrypt(row.sealed_secret, sealContext(accountId));
  }

  /** Confirms a pending enrolment with its first code; returns fresh recovery codes, or undefined if the code is wrong. */
  async confirmTotp(accountId: string, code: string): Promise<string[] | undefined> {
    const pending = await this.pendingTotpSecret(accountId);
    if (!pending) return undefined;
    const step = await acceptedTimeStep(pending, code, undefined);
    if (step === undefined) return undefined;
    return this.knex.transaction(async (trx) => {
      const confirmed = await trx('totp_factors')
        .where('account_id', accountId)
        .whereNull('confirmed_at')
        .update({ confirmed_at: trx.fn.now(), last_used_step: step, last_used_at: trx.fn.now() })
        .returning('account_id');
      if (confirmed.length !== 1) return undefined;
      return this.replaceRecoveryCodes(trx, accountId);
    });
  }

  /** Whether `code` is the account's current TOTP code, never accepted before. */
  async verifyTotp(accountId: string, code: string): Promise<boolean> {
    const row = await this.totpRow(accountId);
    if (!row?.confirmed_at) return false;
    const lastStep = stepOf(row.last_used_step);
    const step = await acceptedTimeStep(this.secret.decrypt(row.sealed_secret, sealContext(accountId)), code, lastStep);
    if (step === undefined) return false;
    const accepted = await this.knex('totp_factors')
      .where('account_id', accountId)
      .whereNotNull('confirmed_at')
      .andWhere((query) => query.whereNull('last_used_step').orWhere('last_used_step', '<', step))
      .update({ last_used_step: step, last_used_at: this.knex.fn.now() })
      .returning('account_id');
    return accepted.length === 1;
  }

  /** Spends a recovery code; true if it was one of the account's unused codes. */
  async redeemRecoveryCode(accountId: string, input: string): Promise<boolean> {
    const code = normalizeRecoveryCode(input);
    if (!code) return false;
    const spent = await this.knex('recovery_codes')
      .where({ account_id: accountId, code_hash: hashRecoveryCode(this.secret, accountId, code) })
      .whereNull('used_at')
      .update({ used_at: this.knex.fn.now() })
      .returning('account_id');
    return spent.length === 1;
  }

  /** New recovery codes (to be shown once); the old ones stop working. */
  async regenerateRecoveryCodes(accountId: string): Promise<string[]> {
    if (!(await this.hasTotp(accountId))) throw new ValidationError(['Set up an authenticator app first.']);
    return this.knex.transaction((trx) => this.replaceRecoveryCodes(trx, accountId));
  }

  private async replaceRecoveryCodes(trx: Knex.Transaction, accountId: string): Promise<string[]> {
    const codes = newRecoveryCodes();
    await trx('recovery_codes').where('account_id', accountId).delete();
    await trx('recovery_codes').insert(codes.map((code) => ({ account_id: accountId, code_hash: hashRecoveryCode(this.secret, accountId, code) })));
    return codes;
  }

  /** Removes the authenticator app and the recovery codes. Returns whether there was one. */
  async removeTotp(accountId: string): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      await trx('recovery_codes').where('account_id', accountId).delete();
      const removed = await trx('totp_factors').where('account_id', accountId).delete().returning('account_id');
      return removed.length > 0;
    });
  }

  /** MFA-3: whether an operator requires this user to sign in with a second factor. */
  async isRequired(accountId: string): Promise<boolean> {
    const row = (await this.knex('accounts').select('mfa_required').where('id', accountId).first()) as { mfa_required: boolean } | undefined;
    return row?.mfa_required ?? false;
  }

  async setRequired(accountId: string, required: boolean): Promise<void> {
    await this.knex('accounts').where('id', accountId).update({ mfa_required: required });
  }
}
