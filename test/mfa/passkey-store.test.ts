/**
 * MFA-1 storage on both databases: passkeys belong to one account, a credential id is
 * registered once, the counter moves forward only from the value a verification started from,
 * and sign-in state bound to an interaction is handed out once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewPasskey } from '../../src/mfa/passkeys.js';
import { registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';

describe.each<DatabaseChoice>(['postgres', 'embedded'])('MFA-1 passkey storage (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  let owner: string;
  let other: string;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    owner = (await registerUser(server, 'sam')).account.id;
    other = (await registerUser(server, 'tess')).account.id;
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  const passkeys = () => server.gatehouse.services.passkeys;
  const credential = (id: string, accountId: string): NewPasskey => ({
    id,
    accountId,
    name: 'Phone',
    publicKey: new Uint8Array([1, 2, 3, 4]),
    counter: 0,
    transports: ['internal'],
    deviceType: 'multiDevice',
    backedUp: true,
  });

  it('registers a credential id once, for one account', async () => {
    expect(await passkeys().add(credential('cred-1', owner))).toBe(true);
    expect(await passkeys().add(credential('cred-1', other))).toBe(false);
    const [stored] = await passkeys().list(owner);
    expect(stored).toMatchObject({ id: 'cred-1', accountId: owner, name: 'Phone', counter: 0, transports: ['internal'], deviceType: 'multiDevice', backedUp: true });
    expect([...(stored?.publicKey ?? [])]).toEqual([1, 2, 3, 4]);
    expect(await passkeys().list(other)).toEqual([]);
  });

  it('moves the counter forward once from the value a verification started from', async () => {
    const stored = await passkeys().find('cred-1');
    if (!stored) throw new Error('missing');
    const results = await Promise.all([passkeys().recordUse(stored, 5, true), passkeys().recordUse(stored, 5, true)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await passkeys().find('cred-1'))?.counter).toBe(5);
    expect((await passkeys().find('cred-1'))?.lastUsedAt).toBeInstanceOf(Date);
  });

  it('renames and removes only within the owner’s account', async () => {
    expect(await passkeys().rename(other, 'cred-1', 'Mine now')).toBe(false);
    expect(await passkeys().remove(other, 'cred-1')).toBe(false);
    expect(await passkeys().rename(owner, 'cred-1', 'Work phone')).toBe(true);
    expect((await passkeys().find('cred-1'))?.name).toBe('Work phone');
    expect(await passkeys().remove(owner, 'cred-1')).toBe(true);
    expect(await passkeys().find('cred-1')).toBeUndefined();
  });

  it('hands out interaction-bound state once, and not after it expires', async () => {
    const states = server.gatehouse.services.interactionStates;
    await states.put('uid-1', 'passkey-challenge', undefined, { challenge: 'abc' }, 60);
    expect((await states.get<{ challenge: string }>('uid-1', 'passkey-challenge'))?.payload.challenge).toBe('abc');
    const taken = await Promise.all([states.take('uid-1', 'passkey-challenge'), states.take('uid-1', 'passkey-challenge')]);
    expect(taken.filter(Boolean)).toHaveLength(1);
    await states.put('uid-2', 'passkey-challenge', owner, { challenge: 'old' }, 60);
    await server.gatehouse.services.db.knex('interaction_states').where('interaction_uid', 'uid-2').update({ expires_at: new Date(Date.now() - 1000) });
    expect(await states.take('uid-2', 'passkey-challenge')).toBeUndefined();
  });
});
