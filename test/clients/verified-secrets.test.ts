/** A client secret that matched once is recognised without hashing again; nothing else is. */
import { Session } from 'node:inspector/promises';
import { describe, expect, it } from 'vitest';
import { VerifiedSecrets } from '../../src/clients/verified-secrets.js';
import { ClientStore } from '../../src/clients/store.js';
import { openChangeFeed } from '../../src/db/change-feed.js';
import { openEmbedded } from '../../src/db/index.js';
import { MasterSecret } from '../../src/security/master-secret.js';

describe('verified client secrets', () => {
  it('recognises only the exact secret that matched, whatever its length', () => {
    const verified = new VerifiedSecrets();
    verified.remember('hash-a', 'correct-secret');
    expect(verified.matches('hash-a', 'correct-secret')).toBe(true);
    for (const wrong of ['correct-secreT', 'correct-secre', 'correct-secret!', 'correct-secret\u0000', '', 'ünïcode-secret']) {
      expect(verified.matches('hash-a', wrong)).toBe(false);
    }
    expect(verified.matches('hash-b', 'correct-secret')).toBe(false);
  });

  it('holds a digest of a verified secret, never the secret itself (heap snapshots, core dumps)', async () => {
    const verified = new VerifiedSecrets();
    const presented = 'plain-client-secret-that-must-not-linger-in-memory';
    verified.remember('hash-a', presented);
    // Read the private map through the inspector, as a heap inspection would.
    const session = new Session();
    session.connect();
    try {
      (globalThis as Record<string, unknown>)['__verifiedSecretsProbe'] = verified;
      type Remote = { objectId?: string; value?: unknown };
      const post = (method: string, params: object) => session.post(method, params) as Promise<unknown>;
      const { result } = (await post('Runtime.evaluate', { expression: 'globalThis.__verifiedSecretsProbe' })) as { result: Remote };
      const { privateProperties } = (await post('Runtime.getProperties', { objectId: result.objectId, ownProperties: true })) as {
        privateProperties?: { name: string; value?: Remote }[];
      };
      const known = privateProperties?.find((property) => property.name === '#known');
      expect(known?.value?.objectId).toBeTruthy();
      const held = (await post('Runtime.callFunctionOn', {
        objectId: known?.value?.objectId,
        functionDeclaration: 'function () { return [...this.values()].map((value) => Buffer.from(value).toString("latin1")); }',
        returnByValue: true,
      })) as { result: Remote };
      const values = held.result.value as string[];
      expect(values).toHaveLength(1);
      for (const value of values) {
        expect(value).not.toContain(presented);
        expect(value).not.toContain(presented.slice(0, 16));
      }
    } finally {
      delete (globalThis as Record<string, unknown>)['__verifiedSecretsProbe'];
      session.disconnect();
    }
    expect(verified.matches('hash-a', presented)).toBe(true);
  });

  it('keeps at most the configured number of secrets, dropping the oldest', () => {
    const verified = new VerifiedSecrets(2);
    verified.remember('a', 'secret-a');
    verified.remember('b', 'secret-b');
    verified.remember('c', 'secret-c');
    expect(verified.matches('a', 'secret-a')).toBe(false);
    expect(verified.matches('c', 'secret-c')).toBe(true);
  });

  it('lets the client store hash a secret once per client, and every wrong guess', async () => {
    const db = await openEmbedded(undefined);
    const feed = await openChangeFeed(db, () => undefined);
    try {
      const secret = new MasterSecret('m'.repeat(40));
      let hashed = 0;
      const verify = secret.verifyClientSecret.bind(secret);
      secret.verifyClientSecret = (presented, stored) => {
        hashed += 1;
        return verify(presented, stored);
      };
      const store = new ClientStore(db.knex, secret, feed);
      const stored = secret.hashClientSecret('the-client-secret');
      expect([1, 2, 3].map(() => store.verifySecret('the-client-secret', stored))).toEqual([true, true, true]);
      expect(hashed).toBe(1);
      expect(store.verifySecret('a-wrong-guess', stored)).toBe(false);
      expect(store.verifySecret('a-wrong-guess', stored)).toBe(false);
      expect(hashed).toBe(3);
      // A client change forgets what was verified.
      await feed.publish('clients', 'any');
      expect(store.verifySecret('the-client-secret', stored)).toBe(true);
      expect(hashed).toBe(4);
    } finally {
      await feed.close();
      await db.close();
    }
  });
});
