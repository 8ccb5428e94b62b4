/**
 * Everything derived from GATEHOUSE_SECRET: an AES-256-GCM box for key material at rest, an
 * HMAC pepper for client secrets and the DPoP nonce secret. Enforces: distinct sub-keys per
 * purpose (HKDF), a fresh random IV per encryption, authenticated decryption (tampered
 * ciphertext is rejected).
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const VERSION = 'v1';

export class MasterSecret {
  // KeyObjects, not Buffers: Node checks a Buffer key by catching an exception, which costs
  // ~9 µs per HMAC — on every client-authenticated token request.
  readonly #encryptionKey: KeyObject;
  readonly #pepper: KeyObject;
  readonly #macKey: KeyObject;
  readonly #dpopNonceSecret: Buffer;

  constructor(secret: string) {
    if (secret.length < 32) throw new Error('the master secret must be at least 32 characters');
    const ikm = Buffer.from(secret, 'utf8');
    const salt = Buffer.from('gatehouse', 'utf8');
    this.#encryptionKey = createSecretKey(Buffer.from(hkdfSync('sha256', ikm, salt, 'gatehouse/at-rest-encryption', 32)));
    this.#pepper = createSecretKey(Buffer.from(hkdfSync('sha256', ikm, salt, 'gatehouse/client-secret-pepper', 32)));
    this.#macKey = createSecretKey(Buffer.from(hkdfSync('sha256', ikm, salt, 'gatehouse/request-mac', 32)));
    this.#dpopNonceSecret = Buffer.from(hkdfSync('sha256', ikm, salt, 'gatehouse/dpop-nonce', 32));
  }

  /**
   * The key the engine derives DPoP nonces from (FLOW-8): the same on every worker and replica,
   * so a nonce one of them issued is accepted by all. A copy: the engine wants a Buffer of its own.
   */
  dpopNonceSecret(): Buffer {
    return Buffer.from(this.#dpopNonceSecret);
  }

  /** Encrypts UTF-8 text; `context` is bound as associated data so a value cannot be moved to another row. */
  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#encryptionKey, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString('base64url'), tag.toString('base64url'), body.toString('base64url')].join('.');
  }

  decrypt(sealed: string, context: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || body === undefined) throw new Error('unrecognised encrypted value');
    const authTag = Buffer.from(tag, 'base64url');
    if (authTag.length !== 16) throw new Error('unrecognised encrypted value');
    const decipher = createDecipheriv('aes-256-gcm', this.#encryptionKey, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(authTag);
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** A keyed digest of `value` for `purpose` (CSRF tokens, opaque handles): unforgeable, stable. */
  mac(purpose: string, value: string): string {
    return createHmac('sha256', this.#macKey).update(`${purpose}\u0000${value}`, 'utf8').digest('base64url');
  }

  macMatches(purpose: string, value: string, presented: string): boolean {
    const expected = Buffer.from(this.mac(purpose, value), 'utf8');
    const actual = Buffer.from(presented, 'utf8');
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  /** Keyed hash for high-entropy client secrets; a database dump alone cannot be used to test guesses. */
  hashClientSecret(secret: string): string {
    return `hmac-sha256.${createHmac('sha256', this.#pepper).update(secret, 'utf8').digest('base64url')}`;
  }

  verifyClientSecret(secret: string, stored: string): boolean {
    const expected = Buffer.from(stored, 'utf8');
    const actual = Buffer.from(this.hashClientSecret(secret), 'utf8');
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}
