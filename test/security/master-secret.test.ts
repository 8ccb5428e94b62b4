import { describe, expect, it } from 'vitest';
import { MasterSecret } from '../../src/security/master-secret.js';

const secret = new MasterSecret('a-test-master-secret-of-enough-length-0123456789');

describe('master secret: keys and client secrets at rest', () => {
  it('round-trips sealed values bound to their context', () => {
    const sealed = secret.encrypt('private key material', 'keys/k1');
    expect(sealed).not.toContain('private');
    expect(secret.decrypt(sealed, 'keys/k1')).toBe('private key material');
    expect(() => secret.decrypt(sealed, 'keys/k2')).toThrow();
  });

  it('rejects tampered ciphertext and truncated authentication tags', () => {
    const [version, iv, tag, body] = secret.encrypt('value', 'ctx').split('.') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => secret.decrypt([version, iv, tag, flipped.toString('base64url')].join('.'), 'ctx')).toThrow();
    const shortTag = Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => secret.decrypt([version, iv, shortTag, body].join('.'), 'ctx')).toThrow();
  });

  it('hashes client secrets with a key: another master secret gives another hash', () => {
    const hash = secret.hashClientSecret('client-secret-value');
    expect(secret.verifyClientSecret('client-secret-value', hash)).toBe(true);
    expect(secret.verifyClientSecret('client-secret-valuE', hash)).toBe(false);
    expect(new MasterSecret('another-master-secret-of-enough-length-987654').hashClientSecret('client-secret-value')).not.toBe(hash);
  });
});
