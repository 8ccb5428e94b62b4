/**
 * MFA-2 storage on both databases: the TOTP secret sealed at rest, enrolment only after a first
 * code, a code accepted once (also when two replicas are handed it at the same moment), recovery
 * codes hashed at rest and spent once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';
import { currentStep, totpCode } from '../support/totp.js';

describe.each<DatabaseChoice>(['postgres', 'embedded'])('MFA-2 second-factor storage (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  let accountId: string;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    accountId = (await registerUser(server, 'erin')).account.id;
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  const factors = () => server.gatehouse.services.factors;
  const knex = () => server.gatehouse.services.db.knex;
  let secret: string;
  let recoveryCodes: string[];

  it('an enrolment counts only once a first code is confirmed, and the secret is sealed at rest', async () => {
    secret = await factors().startTotpEnrolment(accountId);
    expect(await factors().hasTotp(accountId)).toBe(false);
    const row = await knex()('totp_factors').where('account_id', accountId).first();
    expect(row.sealed_secret).toMatch(/^v1\./);
    expect(row.sealed_secret).not.toContain(secret);
    // A sealed secret moved to another account's row does not open.
    expect(() => server.gatehouse.services.secret.decrypt(row.sealed_secret, 'totp:someone-else')).toThrow();

    expect(await factors().confirmTotp(accountId, '000000' === totpCode(secret) ? '111111' : '000000')).toBeUndefined();
    expect(await factors().hasTotp(accountId)).toBe(false);
    recoveryCodes = (await factors().confirmTotp(accountId, totpCode(secret))) ?? [];
    expect(recoveryCodes).toHaveLength(10);
    expect(await factors().hasTotp(accountId)).toBe(true);
    await expect(factors().startTotpEnrolment(accountId)).rejects.toThrow(/already set up/);
  });

  it('accepts a code once: the confirmation code cannot be replayed, a later one works once', async () => {
    const step = currentStep();
    // The confirmation used a code of this step or the one before: it is spent.
    expect(await factors().verifyTotp(accountId, totpCode(secret, step - 1))).toBe(false);
    expect(await factors().verifyTotp(accountId, totpCode(secret, step))).toBe(false);
    // One step of clock drift is allowed, so the next step's code works — once.
    expect(await factors().verifyTotp(accountId, totpCode(secret, step + 1))).toBe(true);
    expect(await factors().verifyTotp(accountId, totpCode(secret, step + 1))).toBe(false);
    expect(await factors().verifyTotp(accountId, 'abcdef')).toBe(false);
    expect(await factors().verifyTotp(accountId, '1234567')).toBe(false);
  });

  it('hands one code to many verifiers at once: exactly one accepts it', async () => {
    await knex()('totp_factors').where('account_id', accountId).update({ last_used_step: currentStep() - 2 });
    const code = totpCode(secret);
    const results = await Promise.all(Array.from({ length: 5 }, () => factors().verifyTotp(accountId, code)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('stores only keyed hashes of recovery codes and accepts each once, in any spelling', async () => {
    const rows = await knex()('recovery_codes').where('account_id', accountId);
    expect(rows).toHaveLength(10);
    for (const code of recoveryCodes) expect(JSON.stringify(rows)).not.toContain(code);
    const [first, second] = recoveryCodes as [string, string];
    expect(await factors().redeemRecoveryCode(accountId, first.toLowerCase().replace('-', ' '))).toBe(true);
    expect(await factors().redeemRecoveryCode(accountId, first)).toBe(false);
    expect(await factors().redeemRecoveryCode(accountId, 'ZZZZZ-ZZZZZ')).toBe(false);
    expect(await factors().redeemRecoveryCode(accountId, 'not a code')).toBe(false);
    expect((await factors().status(accountId)).recoveryCodesLeft).toBe(9);
    const results = await Promise.all(Array.from({ length: 4 }, () => factors().redeemRecoveryCode(accountId, second)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('regenerating recovery codes makes the old ones worthless', async () => {
    const fresh = await factors().regenerateRecoveryCodes(accountId);
    expect(await factors().redeemRecoveryCode(accountId, recoveryCodes[2] ?? '')).toBe(false);
    expect(await factors().redeemRecoveryCode(accountId, fresh[0] ?? '')).toBe(true);
    expect((await factors().status(accountId)).recoveryCodesLeft).toBe(9);
  });

  it('removing the authenticator app removes its recovery codes', async () => {
    expect(await factors().removeTotp(accountId)).toBe(true);
    expect(await factors().hasTotp(accountId)).toBe(false);
    expect(await factors().status(accountId)).toEqual({ totp: undefined, recoveryCodesLeft: 0 });
    expect(await factors().removeTotp(accountId)).toBe(false);
  });
});
